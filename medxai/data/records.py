"""What every data source becomes: a list of image records with class names (single- or multi-label)."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

UNCERTAIN = -1.0
"""Multi-label target value for 'uncertain, ignore in the loss' (CheXpert's U-Ignore policy)."""


@dataclass
class ImageRecord:
    """One image: where its pixels are, its target, and its expert localisation if any."""

    image_id: str
    source: Path | np.ndarray
    target: int | list[float]
    group: str
    box: tuple[int, int, int, int] | None = None
    mask: Path | None = None
    split: str | None = None


@dataclass
class DatasetSpec:
    name: str
    records: list[ImageRecord]
    class_names: list[str]
    multi_label: bool = False
    extra: dict = field(default_factory=dict)

    def targets(self) -> np.ndarray:
        """[N] class indices, or [N, C] multi-hot (UNCERTAIN where unknown)."""
        return np.array([r.target for r in self.records], dtype=np.float32 if self.multi_label else np.int64)

    def stratify_labels(self) -> np.ndarray:
        """One label per record for stratified splits: the class, or the first positive finding (-1: none)."""
        targets = self.targets()
        if not self.multi_label:
            return targets
        positive = targets > 0.5
        return np.where(positive.any(axis=1), positive.argmax(axis=1), -1)

    def groups(self) -> np.ndarray:
        return np.array([r.group for r in self.records])

    def subset(self, indices) -> "DatasetSpec":
        return DatasetSpec(self.name, [self.records[i] for i in indices], self.class_names, self.multi_label,
                           self.extra)

    def chosen(self, split: str | None = None, ids_file: str | Path | None = None) -> list[int]:
        """Indices of the records of `split` (all when None) whose ids `ids_file` lists (one a line, e.g. a run's
        validation_ids.txt; all when None), in the data's order."""
        wanted = set(Path(ids_file).read_text().split()) if ids_file else None
        return [i for i, r in enumerate(self.records)
                if (split is None or r.split == split) and (wanted is None or r.image_id in wanted)]

    def localised(self) -> list[int]:
        """Indices of the records with an expert mask or box, in the data's order."""
        return [i for i, r in enumerate(self.records) if r.mask is not None or r.box is not None]

    def has_localisation(self) -> bool:
        return bool(self.localised())

    def fingerprint(self) -> str:
        """Stable hash of ids, targets and class names: tells whether two runs saw the same data."""
        payload = json.dumps({"classes": self.class_names, "items": [[r.image_id, r.target] for r in self.records]})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
