import csv

import numpy as np
import pytest
from PIL import Image

from medxai.data import ImageDataset, load_dataset
from medxai.data.chexpert import OBSERVATIONS
from medxai.data.phantoms import make_phantoms
from medxai.data.records import UNCERTAIN
from medxai.errors import UserError
from tests.data.test_decode import dicom_bytes, ramp


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def save_png(path, value=128, size=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


def test_labelled_folder_with_boxes_masks_dicom_and_patient_blocks(tmp_path):
    for image_id in ("0001", "0002", "0015"):
        save_png(tmp_path / "images" / f"{image_id}.png")
    (tmp_path / "images" / "0020.dcm").write_bytes(dicom_bytes(ramp(32, 32)))
    save_png(tmp_path / "masks" / "0002.png", 255)
    write_csv(tmp_path / "labels.csv", ["image_id", "diagnosis", "x0", "y0", "x1", "y1"],
              [["0001", "glioma", 1, 2, 10, 12], ["0002", "pituitary", "", "", "", ""],
               ["0015", "glioma", 0, 0, 4, 4], ["0020", "pituitary", 0, 0, 8, 8]])
    spec = load_dataset(tmp_path)
    assert spec.class_names == ["glioma", "pituitary"] and not spec.multi_label
    assert [r.target for r in spec.records] == [0, 1, 0, 1]
    assert spec.records[0].box == (1, 2, 10, 12) and spec.records[1].mask is not None
    assert spec.records[0].group == spec.records[1].group != spec.records[2].group  # ids 1, 2 share a block
    item = ImageDataset(spec, 16)[0]
    assert item["image"].shape == (3, 16, 16) and item["mask"].sum() > 0
    dicom_item = ImageDataset(spec, 16)[3]
    assert dicom_item["image"][0, 0, -1] > dicom_item["image"][0, 0, 0]  # the ramp survived decoding


@pytest.mark.parametrize("rows, message", [
    ([["0001"]], "lacks the column 'diagnosis'"),
    ([["9999", "glioma"]], "no image for id '9999'"),
])
def test_labelled_folder_errors_name_the_problem(tmp_path, rows, message):
    save_png(tmp_path / "images" / "0001.png")
    write_csv(tmp_path / "labels.csv", ["image_id"] if message.startswith("lacks") else ["image_id", "diagnosis"],
              rows)
    with pytest.raises(UserError, match=message):
        load_dataset(tmp_path)


@pytest.mark.parametrize("policy, expected", [("ones", 1.0), ("zeros", 0.0), ("ignore", UNCERTAIN)])
def test_chexpert_uncertainty_policies(tmp_path, policy, expected):
    relative = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
    save_png(tmp_path / relative)
    values = ["1.0", "-1.0", ""] + ["0.0"] * 11
    write_csv(tmp_path / "CheXpert-v1.0-small" / "train.csv", ["Path", "Sex", "Age"] + OBSERVATIONS,
              [[relative, "Female", 60] + values])
    spec = load_dataset(tmp_path / "CheXpert-v1.0-small" / "train.csv", uncertainty=policy)
    assert spec.multi_label and spec.class_names == OBSERVATIONS
    assert spec.records[0].target[:3] == [1.0, expected, 0.0]
    assert spec.records[0].group == "patient00001"


def test_isic_2019_and_2020(tmp_path):
    save_png(tmp_path / "images" / "ISIC_0000001.jpg".replace(".jpg", ".png"))
    save_png(tmp_path / "images" / "ISIC_0000002.png")
    classes = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    write_csv(tmp_path / "gt2019.csv", ["image"] + classes,
              [["ISIC_0000001"] + [0, 1] + [0] * 7, ["ISIC_0000002", 1] + [0] * 8])
    spec = load_dataset(tmp_path / "gt2019.csv")
    assert spec.class_names == classes and [r.target for r in spec.records] == [1, 0]
    write_csv(tmp_path / "gt2020.csv", ["image_name", "patient_id", "benign_malignant", "target"],
              [["ISIC_0000001", "IP_1", "benign", 0], ["ISIC_0000002", "IP_1", "malignant", 1]])
    spec = load_dataset(tmp_path / "gt2020.csv")
    assert spec.class_names == ["benign", "malignant"] and [r.target for r in spec.records] == [0, 1]
    assert {r.group for r in spec.records} == {"IP_1"}


def test_medmnist_npz_single_and_multi_label(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "pneumonia.npz", train_images=rng.integers(0, 255, (6, 28, 28), dtype=np.uint8),
             train_labels=np.array([[0], [1], [0], [1], [0], [1]]),
             test_images=rng.integers(0, 255, (2, 28, 28), dtype=np.uint8), test_labels=np.array([[1], [0]]))
    spec = load_dataset(tmp_path / "pneumonia.npz")
    assert len(spec.records) == 8 and spec.class_names == ["class_0", "class_1"]
    assert [r.split for r in spec.records].count("test") == 2
    assert ImageDataset(spec, 32)[0]["image"].shape == (3, 32, 32)
    np.savez(tmp_path / "chest.npz", train_images=rng.integers(0, 255, (3, 28, 28, 3), dtype=np.uint8),
             train_labels=np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]]))
    spec = load_dataset(tmp_path / "chest.npz")
    assert spec.multi_label and spec.records[0].target == [0.0, 1.0, 1.0]


def test_unrecognised_sources_are_user_errors(tmp_path):
    write_csv(tmp_path / "other.csv", ["a", "b"], [[1, 2]])
    (tmp_path / "empty.csv").write_text("")
    for path, message in [(tmp_path / "missing", "not found"), (tmp_path / "other.csv", "unrecognised CSV"),
                          (tmp_path / "empty.csv", "no header"), (tmp_path, "labels.csv is missing")]:
        with pytest.raises(UserError, match=message):
            load_dataset(path)


def test_phantoms_decide_the_class_inside_the_lesion_only(tmp_path):
    spec = load_dataset(make_phantoms(tmp_path, "dermoscopy", n=20, seed=3, size=64))
    assert spec.class_names == ["melanoma", "nevus"] and all(r.mask is not None for r in spec.records)
    assert {r.split for r in spec.records} == {"train", "test"}
    for record in spec.records:  # the background is skin-coloured wherever the lesion is not
        pixels = np.asarray(Image.open(record.source), dtype=float) / 255
        mask = np.asarray(Image.open(record.mask)) > 0
        assert pixels[~mask].mean(axis=0)[0] > pixels[mask].mean(axis=0)[0] + 0.2


def test_spurious_marker_follows_the_label_in_training_only(tmp_path):
    spec = load_dataset(make_phantoms(tmp_path, "xray", n=60, seed=1, size=64, spurious_marker=True))
    marked = lambda r: np.asarray(Image.open(r.source))[3, 3].mean() == 255  # noqa: E731
    train = [r for r in spec.records if r.split == "train"]
    assert all(marked(r) == (spec.class_names[r.target] == "malignant_nodule") for r in train)
    test = [r for r in spec.records if r.split == "test"]
    assert any(marked(r) != (spec.class_names[r.target] == "malignant_nodule") for r in test)


def test_real_brain_mri_groups_keep_neighbouring_slices_together(shared_data):
    spec = load_dataset(shared_data / "brain_mri")
    assert spec.class_names == ["glioma", "meningioma", "pituitary"] and spec.has_localisation()
    by_id = {r.image_id: r.group for r in spec.records}
    assert by_id["0001"] == by_id["0002"]


def test_benign_sign_draws_bright_calcifications_in_benign_nodules_only(tmp_path):
    spec = load_dataset(make_phantoms(tmp_path / "sign", "xray", n=20, seed=2, size=64, benign_sign=True))
    for record in spec.records:  # the nodule is 0.7 grey; calcifications 0.95, dark spots 0.3
        pixels = np.asarray(Image.open(record.source), dtype=float)[..., 0] / 255
        inside = pixels[np.asarray(Image.open(record.mask)) > 0]
        benign = spec.class_names[record.target] == "benign_nodule"
        assert (inside.max() > 0.87) == benign and (inside.min() < 0.38) != benign
    with pytest.raises(UserError, match="--kind xray"):
        make_phantoms(tmp_path / "skin", "dermoscopy", n=4, benign_sign=True)
