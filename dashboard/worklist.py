"""A worklist: the images of a labelled folder (`labels.csv`, `images/`, optional `masks/` and boxes), each
with the expert's diagnosis and localisation when present."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dashboard.imaging import box_mask
from medxai.data.folder import load_labelled_folder


@dataclass
class WorklistItem:
    image_id: str
    image: Path
    diagnosis: str
    mask: Path | None
    box: tuple[int, int, int, int] | None
    split: str | None

    @property
    def title(self) -> str:
        marks = "mask" if self.mask else "box" if self.box else "no localisation"
        return f"{self.image_id} · {self.diagnosis} · {marks}" + (f" · {self.split}" if self.split else "")

    def localisation(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """The expert mask (or the filled box) at the image's size, else None."""
        if self.mask is not None:
            mask = Image.open(self.mask).convert("L").resize((shape[1], shape[0]), Image.Resampling.NEAREST)
            return np.asarray(mask) > 0
        return box_mask(self.box, shape) if self.box else None


def read_worklist(folder: Path) -> tuple[str, list[WorklistItem]]:
    """The folder's name (the dataset) and its cases."""
    spec = load_labelled_folder(folder)
    return spec.name, [WorklistItem(r.image_id, Path(r.source), spec.class_names[r.target], r.mask, r.box, r.split)
                       for r in spec.records]
