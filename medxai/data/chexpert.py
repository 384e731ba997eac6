"""CheXpert CSVs (train.csv / valid.csv): `Path` plus 14 observation columns, multi-label.

Uncertain labels (-1) follow a policy from the CheXpert paper: `ones` (U-Ones), `zeros` (U-Zeros) or
`ignore` (U-Ignore: kept as UNCERTAIN and masked out of the loss and the metrics). Blank means negative.
"""

import re
from pathlib import Path

from medxai.data.folder import read_csv_rows
from medxai.data.records import UNCERTAIN, DatasetSpec, ImageRecord
from medxai.errors import UserError

OBSERVATIONS = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                "Fracture", "Support Devices"]
POLICIES = ("ones", "zeros", "ignore")


def is_chexpert_header(header: list[str]) -> bool:
    return "Path" in header and all(o in header for o in OBSERVATIONS)


def _resolve(csv_path: Path, relative: str) -> Path:
    """CheXpert paths start with the dataset folder name; accept the CSV beside or inside that folder."""
    parts = Path(relative).parts
    for base in (csv_path.parent, csv_path.parent.parent):
        if (base / relative).is_file():
            return base / relative
    stripped = csv_path.parent.joinpath(*parts[1:]) if len(parts) > 1 else csv_path.parent / relative
    if stripped.is_file():
        return stripped
    raise UserError(f"{csv_path}: image {relative} not found beside the CSV or its parent folder")


def load_chexpert(csv_path: str | Path, uncertainty: str = "ones") -> DatasetSpec:
    csv_path = Path(csv_path)
    if uncertainty not in POLICIES:
        raise UserError(f"uncertainty policy must be one of {', '.join(POLICIES)}, got '{uncertainty}'")
    header, rows = read_csv_rows(csv_path)
    if not is_chexpert_header(header):
        raise UserError(f"{csv_path} is not a CheXpert CSV (needs Path and the 14 observation columns)")
    uncertain_value = {"ones": 1.0, "zeros": 0.0, "ignore": UNCERTAIN}[uncertainty]
    records = []
    for line, row in enumerate(rows, start=2):
        target = []
        for name in OBSERVATIONS:
            try:
                value = float(row[name]) if row[name] else 0.0
            except ValueError:
                raise UserError(f"{csv_path} line {line}: '{name}' must be 1, 0, -1 or blank") from None
            if value not in (1.0, 0.0, -1.0):
                raise UserError(f"{csv_path} line {line}: '{name}' must be 1, 0, -1 or blank, got {value}")
            target.append(uncertain_value if value == -1.0 else value)
        patient = re.search(r"patient\d+", row["Path"])
        image_id = row["Path"].replace("/", "_")
        records.append(ImageRecord(image_id, _resolve(csv_path, row["Path"]), target,
                                   patient.group(0) if patient else image_id))
    return DatasetSpec(csv_path.stem, records, list(OBSERVATIONS), multi_label=True,
                       extra={"uncertainty": uncertainty})
