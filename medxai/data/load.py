"""Open any supported data source by its path: labelled folder, CheXpert CSV, ISIC CSV or MedMNIST npz."""

from pathlib import Path

from medxai.data.chexpert import is_chexpert_header, load_chexpert
from medxai.data.folder import load_labelled_folder, read_csv_rows
from medxai.data.isic import isic_version, load_isic
from medxai.data.medmnist import load_medmnist
from medxai.data.records import DatasetSpec
from medxai.errors import UserError


def load_dataset(path: str | Path, uncertainty: str = "ones", images_dir: str | Path | None = None) -> DatasetSpec:
    path = Path(path)
    if not path.exists():
        raise UserError(f"data not found: {path}")
    if path.is_dir():
        return load_labelled_folder(path)
    if path.suffix == ".npz":
        return load_medmnist(path)
    if path.suffix == ".csv":
        header, _ = read_csv_rows(path)
        if is_chexpert_header(header):
            return load_chexpert(path, uncertainty)
        if isic_version(header):
            return load_isic(path, images_dir)
        if path.name == "labels.csv":
            return load_labelled_folder(path.parent)
        raise UserError(f"{path}: unrecognised CSV (expected CheXpert, ISIC 2019/2020 or a labelled folder)")
    raise UserError(f"{path}: expected a labelled folder, a .csv or a MedMNIST .npz")
