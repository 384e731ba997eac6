"""ISIC ground-truth CSVs: 2019 (one-hot diagnosis columns) and 2020 (image_name, patient_id, target).

Images are looked up by id in `images_dir`, or beside the CSV (folders `images`, `train`,
`ISIC_2019_Training_Input`, or the CSV's own folder), as .jpg, .png or .dcm.
"""

from pathlib import Path

from medxai.data.folder import find_image, read_csv_rows
from medxai.data.records import DatasetSpec, ImageRecord
from medxai.errors import UserError

ISIC2019_CLASSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
ISIC2020_CLASSES = ["benign", "malignant"]


def isic_version(header: list[str]) -> int | None:
    if "image" in header and all(c in header for c in ISIC2019_CLASSES[:8]):
        return 2019
    if "image_name" in header and "target" in header:
        return 2020
    return None


def _image_folders(csv_path: Path, images_dir: str | Path | None) -> list[Path]:
    if images_dir is not None:
        return [Path(images_dir)]
    base = csv_path.parent
    return [base / "images", base / "train", base / "ISIC_2019_Training_Input", base]


def load_isic(csv_path: str | Path, images_dir: str | Path | None = None) -> DatasetSpec:
    csv_path = Path(csv_path)
    header, rows = read_csv_rows(csv_path)
    version = isic_version(header)
    if version is None:
        raise UserError(f"{csv_path} is not an ISIC 2019 or 2020 ground-truth CSV")
    classes = [c for c in ISIC2019_CLASSES if c in header] if version == 2019 else ISIC2020_CLASSES
    folders = _image_folders(csv_path, images_dir)
    records = []
    for line, row in enumerate(rows, start=2):
        image_id = row["image"] if version == 2019 else row["image_name"]
        try:
            if version == 2019:
                scores = [float(row[c] or 0) for c in classes]
                target = max(range(len(classes)), key=scores.__getitem__)
            else:
                target = int(float(row["target"]))
        except ValueError:
            raise UserError(f"{csv_path} line {line}: diagnosis columns must be numbers") from None
        image = next((p for p in (find_image(f, image_id) for f in folders) if p), None)
        if image is None:
            raise UserError(f"{csv_path} line {line}: no image for '{image_id}' in {', '.join(map(str, folders))}")
        records.append(ImageRecord(image_id, image, target, row.get("patient_id") or image_id))
    return DatasetSpec(f"isic{version}", records, classes)
