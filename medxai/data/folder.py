"""The native "labelled folder": labels.csv (image_id, diagnosis[, x0, y0, x1, y1]), images/, optional masks/.

Optional columns: `split` (train/test; phantoms write it) and `patient_id` (cross-validation groups).
Without `patient_id`, numeric ids are grouped in contiguous blocks of `GROUP_BLOCK` so neighbouring slices of
one patient (brain_mri) never straddle a train/validation split.
"""

import csv
import re
from pathlib import Path

from medxai.data.decode import SUFFIXES
from medxai.data.records import DatasetSpec, ImageRecord
from medxai.errors import UserError

IMAGE_SUFFIXES = SUFFIXES
"""Tried in this order for each image_id: the accepted formats of `medxai.data.decode`."""
BOX_COLUMNS = ("x0", "y0", "x1", "y1")
GROUP_BLOCK = 10


def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV, with a clear error for an unreadable or empty file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [h.strip() for h in (reader.fieldnames or [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if not header or not rows:
        raise UserError(f"{path} has no header or no rows")
    return header, [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows]


def find_image(folder: Path, image_id: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / f"{image_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def group_of(image_id: str, row: dict[str, str]) -> str:
    if row.get("patient_id"):
        return row["patient_id"]
    digits = re.findall(r"\d+", image_id)
    return f"block{int(digits[-1]) // GROUP_BLOCK}" if digits else image_id


def load_labelled_folder(root: str | Path) -> DatasetSpec:
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.is_file():
        raise UserError(f"{root} is not a labelled folder: {labels} is missing")
    header, rows = read_csv_rows(labels)
    for column in ("image_id", "diagnosis"):
        if column not in header:
            raise UserError(f"{labels} lacks the column '{column}' (has: {', '.join(header)})")
    has_box = all(c in header for c in BOX_COLUMNS)
    class_names = sorted({row["diagnosis"] for row in rows})
    records = []
    for line, row in enumerate(rows, start=2):
        image = find_image(root / "images", row["image_id"])
        if image is None:
            raise UserError(f"{labels} line {line}: no image for id '{row['image_id']}' in {root / 'images'}")
        mask = root / "masks" / f"{row['image_id']}.png"
        box = None
        if has_box and row["x0"]:
            try:
                box = tuple(int(float(row[c])) for c in BOX_COLUMNS)
            except ValueError:
                raise UserError(f"{labels} line {line}: box columns must be numbers") from None
        records.append(ImageRecord(row["image_id"], image, class_names.index(row["diagnosis"]),
                                   group_of(row["image_id"], row), box, mask if mask.is_file() else None,
                                   row.get("split") or None))
    return DatasetSpec(root.name, records, class_names)
