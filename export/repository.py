"""Triton repository entries: `<repo>/<name>/<version>/` plus the configs and label file beside them.

A new checkpoint becomes a new version folder; nothing that exists is changed without `force`. A version is
staged in a hidden folder and renamed into place, so a server polling or loading never sees half a version.
"""

import shutil
import tempfile
from pathlib import Path

from export.spec import (CPU_CONFIG_FILE, GPU_CONFIG_FILE, GPU_PYTHON_CONFIG_FILE, LABELS_FILE, PYTHON_MODEL_FILE,
                         TARGETS, TORCH_MODEL_FILE, ServingSpec)
from export.triton_config import config_text, cpu_config, gpu_config, gpu_python_config
from medxai.errors import UserError

PYTHON_MODELS = {PYTHON_MODEL_FILE: Path(__file__).with_name("triton_python_model.py"),
                 TORCH_MODEL_FILE: Path(__file__).with_name("triton_torch_model.py")}


def existing_versions(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(entry.name) for entry in model_dir.iterdir() if entry.is_dir() and entry.name.isdigit())


def choose_version(model_dir: Path, requested: int | None, force: bool) -> int:
    """The requested version, or one above the newest; an existing version only with `force`."""
    versions = existing_versions(model_dir)
    if requested is None:
        return (versions[-1] if versions else 0) + 1
    if requested < 1:
        raise UserError(f"version must be a positive integer, got {requested}")
    if requested in versions and not force:
        raise UserError(f"{model_dir / str(requested)} already exists; pick another --version or pass --force")
    return requested


def model_files(spec: ServingSpec, target: str) -> dict[str, str]:
    """Relative path to text of the model-level files for `target` (a key of `TARGETS`)."""
    if target not in TARGETS:
        raise UserError(f"target must be one of {', '.join(TARGETS)}, got '{target}'")
    renderers = {"gpu": (GPU_CONFIG_FILE, gpu_config), "cpu": (CPU_CONFIG_FILE, cpu_config),
                 "gpu-python": (GPU_PYTHON_CONFIG_FILE, gpu_python_config)}
    files = {LABELS_FILE: spec.labels_text()}
    for name in TARGETS[target]:
        path, render = renderers[name]
        files[path] = config_text(render(spec))
    return files


def check_overwrites(model_dir: Path, files: dict[str, str], force: bool) -> None:
    """Refuse to change an existing config or label file (it describes every version) unless forced."""
    changed = [name for name, text in files.items()
               if (model_dir / name).is_file() and (model_dir / name).read_text() != text]
    if changed and not force:
        raise UserError(f"{model_dir} already has a different {', '.join(changed)} (another image size, class list "
                        f"or batching?); export under another --name or pass --force")


def staging_dir(model_dir: Path) -> Path:
    """A hidden folder beside the versions (Triton ignores non-numeric folders), on the same file system."""
    model_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    for name, source in PYTHON_MODELS.items():
        shutil.copyfile(source, folder / name)
    return folder


def publish(model_dir: Path, staged: Path, version: int, files: dict[str, str]) -> Path:
    """Move the staged version into place, then write the model-level files (each atomically)."""
    target = model_dir / str(version)
    if target.exists():
        shutil.rmtree(target)
    staged.rename(target)
    for name, text in files.items():
        path = model_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
    return target
