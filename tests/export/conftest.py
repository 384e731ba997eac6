"""Fixtures for export and serving tests: fresh (untrained) checkpoints and real phantom pixels.

Export parity and serving do not depend on training, so fresh resnet18_attention models at 64 px keep
these tests quick; the random seed makes two checkpoints give different answers (two versions).
"""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from export.samples import sample_pixels
from medxai.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint
from medxai.models import build_model

IMAGE_SIZE = 64
CLASSES = ["normal", "abnormal"]


@pytest.fixture(scope="session")
def make_checkpoint(tmp_path_factory) -> Callable[..., Path]:
    """`make_checkpoint(seed, image_size=64)`: a saved fresh resnet18_attention checkpoint."""
    folder = tmp_path_factory.mktemp("checkpoints")

    def make(seed: int, image_size: int = IMAGE_SIZE) -> Path:
        path = folder / f"seed{seed}_{image_size}.pt"
        if not path.exists():
            torch.manual_seed(seed)
            info = CheckpointInfo(architecture="resnet18_attention", architecture_args={}, class_names=CLASSES,
                                  multi_label=False, image_size=image_size, mean=[0.5, 0.5, 0.5],
                                  std=[0.25, 0.25, 0.25])
            save_checkpoint(path, build_model("resnet18_attention", len(CLASSES)), info)
        return path
    return make


@pytest.fixture(scope="session")
def pixels() -> torch.Tensor:
    """Eight phantom x-rays, float [8,3,64,64] in [0, 1]."""
    return sample_pixels(IMAGE_SIZE, count=8)


@pytest.fixture(scope="session")
def torch_reference() -> Callable[[Path, torch.Tensor], torch.Tensor]:
    """`torch_reference(checkpoint, pixels)`: the PyTorch answer (probabilities) a served model must match."""
    def probabilities(checkpoint: Path, pixels: torch.Tensor) -> torch.Tensor:
        model, _ = load_checkpoint(checkpoint)
        with torch.no_grad():
            return model.probabilities(model(pixels))
    return probabilities
