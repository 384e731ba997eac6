"""Real images to verify an export on: the user's data, or freshly drawn phantoms when none is given."""

import tempfile
from pathlib import Path

import torch

from medxai.data import load_dataset
from medxai.data.dataset import record_pixels, to_model_input
from medxai.data.phantoms import make_phantoms
from medxai.errors import UserError

DEFAULT_COUNT = 16


def sample_pixels(image_size: int, data: Path | None = None, count: int = DEFAULT_COUNT) -> torch.Tensor:
    """Float pixels [N,3,S,S] in [0, 1], resized as in evaluation (the first `count` images of `data`)."""
    if count < 1:
        raise UserError(f"need at least one image to verify an export on, got {count}")
    if data is not None:
        return _first_images(data, image_size, count)
    with tempfile.TemporaryDirectory(prefix="medxai-samples-") as folder:
        return _first_images(make_phantoms(folder, "xray", n=max(count, 4), seed=0, size=max(image_size, 32)),
                             image_size, count)


def _first_images(data: Path, image_size: int, count: int) -> torch.Tensor:
    records = load_dataset(data).records[:count]
    if not records:
        raise UserError(f"{data} holds no images to verify the export on")
    return torch.stack([to_model_input(record_pixels(record), image_size) for record in records])
