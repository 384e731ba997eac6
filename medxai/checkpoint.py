"""The one checkpoint format: everything needed to use a trained model alone.

A checkpoint is a `torch.save`d dict of plain Python values and tensors (loadable with weights_only=True):
architecture and its arguments, weights, class names, multi-label flag, image size, normalisation,
data fingerprint, git commit, validation metrics, calibration temperature, scope (intended use, out-of-distribution
detector, conformal quantile: `medxai.scope`) and a format version. Format 2 added the scope; format 1 files load
with none (everything in scope, no prediction sets) until `medxai scope fit` gives them one.
"""

import datetime
import hashlib
import pickle
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from medxai.errors import UserError
from medxai.models import MedicalClassifier, build_model

FORMAT_VERSION = 2


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its model, besides the weights."""

    architecture: str
    architecture_args: dict[str, Any]
    class_names: list[str]
    multi_label: bool
    image_size: int
    mean: list[float]
    std: list[float]
    data_fingerprint: str = ""
    git_commit: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    format_version: int = FORMAT_VERSION
    temperature: float = 1.0  # temperature scaling (fitted on the validation fold); 1.0 = uncalibrated, as old files
    scope: dict = field(default_factory=dict)  # `medxai.scope.Scope.to_dict()`; {} in files of format 1

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def git_commit() -> str:
    """The commit of the medxai source tree, or '' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def build_from_info(info: CheckpointInfo) -> MedicalClassifier:
    """An untrained model of the architecture the info describes, with its normalisation and temperature set."""
    if not info.temperature > 0:
        raise UserError(f"checkpoint temperature must be > 0, got {info.temperature}")
    model = build_model(info.architecture, info.num_classes, multi_label=info.multi_label, **info.architecture_args)
    model.set_normalization(info.mean, info.std)
    model.temperature = float(info.temperature)
    return model


def save_checkpoint(path: str | Path, model: MedicalClassifier, info: CheckpointInfo) -> Path:
    """Write atomically (temp file then rename) so a crash never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info.created = info.created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    info.git_commit = info.git_commit or git_commit()
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    return save_atomically({"info": asdict(info), "state_dict": state}, path)


def save_atomically(value: dict, path: str | Path) -> Path:
    """`torch.save` to a temp file, then rename: a crash leaves the previous file or the new one, never half."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(value, tmp)
    tmp.replace(path)
    return path


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    return _read(path)[0]


def load_checkpoint(path: str | Path) -> tuple[MedicalClassifier, CheckpointInfo]:
    """The model in eval mode on the CPU, and its info."""
    info, state = _read(path)
    model = build_from_info(info)
    model.load_state_dict(state)
    return model.eval(), info


def checkpoint_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: str | Path) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        info = CheckpointInfo(**raw["info"])
    except Exception as exc:  # any unpickling/shape problem means the file is not one of ours
        # torch's unpickling message advises loading with weights_only=False, which would run code from the file
        reason = ("not a file of tensors torch reads without running code" if isinstance(exc, pickle.UnpicklingError)
                  else f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}")
        raise UserError(f"{path} is not a medxai checkpoint ({reason})") from None
    if info.format_version > FORMAT_VERSION:
        raise UserError(f"{path} has checkpoint format {info.format_version}; this medxai reads up to "
                        f"{FORMAT_VERSION}: upgrade medxai")
    return info, raw["state_dict"]
