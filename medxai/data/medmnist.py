"""MedMNIST `.npz` files already on disk (never downloaded): {train,val,test}_{images,labels}.

Labels of shape [N, 1] are single-label; [N, K] with K > 1 (ChestMNIST) are multi-label.
The npz's own split becomes the record's split: `train` and `val` are for training, `test` is held out.
"""

from pathlib import Path

import numpy as np

from medxai.data.records import DatasetSpec, ImageRecord
from medxai.errors import UserError

SPLITS = {"train": "train", "val": "train", "test": "test"}


def load_medmnist(npz_path: str | Path, class_names: list[str] | None = None) -> DatasetSpec:
    npz_path = Path(npz_path)
    try:
        arrays = dict(np.load(npz_path, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {npz_path} as a MedMNIST npz: {exc}") from None
    present = [s for s in SPLITS if f"{s}_images" in arrays and f"{s}_labels" in arrays]
    if not present:
        raise UserError(f"{npz_path} holds no <split>_images/<split>_labels arrays (keys: {', '.join(arrays)})")
    width = arrays[f"{present[0]}_labels"].reshape(len(arrays[f"{present[0]}_labels"]), -1).shape[1]
    multi_label = width > 1
    records = []
    for split in present:
        labels = arrays[f"{split}_labels"].reshape(len(arrays[f"{split}_labels"]), -1)
        for index, (image, label) in enumerate(zip(arrays[f"{split}_images"], labels)):
            target = [float(v) for v in label] if multi_label else int(label[0])
            records.append(ImageRecord(f"{split}_{index}", image, target, f"{split}_{index}", split=SPLITS[split]))
    num_classes = width if multi_label else int(max(r.target for r in records)) + 1
    names = class_names or [f"class_{i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise UserError(f"{npz_path} has {num_classes} classes but {len(names)} class names were given")
    return DatasetSpec(npz_path.stem, records, names, multi_label)
