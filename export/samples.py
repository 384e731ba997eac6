"""Real images to verify an export on: the user's data, or freshly drawn phantoms when none is given, with
their expert regions and labels where the data has them (the shortcut check needs both)."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from medxai.data import ImageDataset, load_dataset
from medxai.data.phantoms import make_phantoms
from medxai.data.records import DatasetSpec
from medxai.data.sampling import stratified_records
from medxai.errors import UserError

DEFAULT_COUNT = 48
"""Sample images an export is verified on: parity and the shortcut check run on all of them (the
randomisation check on the first `gate.GATE_IMAGES`); at 16, one clean phantom model lost 0.19 of its accuracy
with the region only; at 48, 0.04 on held-out and 0.12 on drawn phantoms (`export.shortcut`)."""


@dataclass
class Samples:
    """`pixels` float [N,3,S,S] in [0, 1]; `regions` bool [N,S,S] (the expert mask, or box drawn filled) or None
    when the images have none; `labels` class indices [N], or None for multi-label data; `source`, in words;
    `class_names`: the classes `labels` index (the data's)."""

    pixels: torch.Tensor
    regions: torch.Tensor | None
    labels: torch.Tensor | None
    source: str
    class_names: list[str]


def sample_images(image_size: int, data: Path | None = None, count: int = DEFAULT_COUNT) -> Samples:
    """Up to `count` images of `data` (of its test split when it has one, and those with a mask or box
    when any has one) drawn across classes (`medxai.data.sampling`), resized as in evaluation; without `data`,
    `count` freshly drawn x-ray phantoms (which have masks). Raises UserError for a count below 1 or a folder
    without images."""
    if count < 1:
        raise UserError(f"need at least one image to verify an export on, got {count}")
    if data is not None:
        spec = load_dataset(data)
        held_out = [i for i, record in enumerate(spec.records) if record.split == "test"]
        return _drawn_images(spec.subset(held_out) if held_out else spec, image_size, count,
                             f"{data}{' (test split)' if held_out else ''}")
    with tempfile.TemporaryDirectory(prefix="medxai-samples-") as folder:
        phantoms = make_phantoms(folder, "xray", n=max(count, 4), seed=0, size=max(image_size, 32))
        return _drawn_images(load_dataset(phantoms), image_size, count, "drawn x-ray phantoms")


def sample_pixels(image_size: int, data: Path | None = None, count: int = DEFAULT_COUNT) -> torch.Tensor:
    """The pixels [N,3,S,S] of `sample_images`."""
    return sample_images(image_size, data, count).pixels


def _drawn_images(spec: DatasetSpec, image_size: int, count: int, source: str) -> Samples:
    annotated = spec.localised()
    chosen = stratified_records(spec, count, annotated or list(range(len(spec.records))))
    if not chosen:
        raise UserError(f"{source} holds no images to verify the export on")
    dataset = ImageDataset(spec.subset(chosen), image_size, cache=False)
    items = [dataset[index] for index in range(len(dataset))]
    pixels = torch.stack([item["image"] for item in items])
    regions = torch.stack([item["mask"] == 1 for item in items]) if annotated else None
    labels = None if spec.multi_label else torch.stack([item["target"] for item in items]).long()
    return Samples(pixels, regions, labels, source, list(spec.class_names))
