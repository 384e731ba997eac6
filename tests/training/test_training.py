import json

import numpy as np
import pytest
import torch

from medxai.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from medxai.data import load_dataset
from medxai.errors import UserError
from medxai.models import build_model
from training.evaluate import evaluate, predict
from training.splits import folds, training_pool
from training.trainer import TrainConfig, train


def test_short_training_learns_phantoms_well_above_chance(trained_run, phantom_dir):
    # the best epoch is chosen by validation AUC, so its accuracy on the 39 validation images depends on where the
    # decision threshold fell that epoch (0.744 at AUC 0.995 on one CPU): accuracy is asserted on the 48 held-out
    # test images below, which selected nothing
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["auc"] >= 0.85 and metrics["accuracy"] >= 0.6
    for name in ("config.json", "best.pt", "roc.png", "fold0/history.csv", "fold0/history.json"):
        assert (trained_run / name).is_file(), name
    history = json.loads((trained_run / "fold0" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    held_out = evaluate(trained_run / "best.pt", phantom_dir, trained_run / "eval", split="test", explanations=False)
    assert held_out["accuracy"] >= 0.8 and held_out["auc"] >= 0.85 and held_out["n"] == 48
    assert set(held_out) >= {"accuracy", "auc", "precision", "recall", "f1", "per_class_auc", "confusion_matrix"}
    assert 0 <= held_out["ece"] <= 1 and held_out["temperature"] == read_checkpoint_info(trained_run / "best.pt").temperature
    assert (trained_run / "eval" / "reliability.png").is_file() and len(held_out["reliability"]) == 15


def test_checkpoint_carries_everything_and_round_trips(trained_checkpoint, phantom_dir, tmp_path):
    model, info = load_checkpoint(trained_checkpoint)
    assert info.architecture == "resnet18_attention" and info.image_size == 64
    assert info.class_names == ["benign_nodule", "malignant_nodule"] and not info.multi_label
    assert len(info.mean) == 3 and all(s > 0 for s in info.std)
    assert info.data_fingerprint == load_dataset(phantom_dir).fingerprint()
    assert info.metrics["validation"]["auc"] > 0.5 and info.created
    save_checkpoint(tmp_path / "copy.pt", model, info)
    again, _ = load_checkpoint(tmp_path / "copy.pt")
    pixels = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(pixels), again(pixels))
    assert torch.equal(again.normalize.mean.flatten(), torch.tensor(info.mean))
    result = predict(trained_checkpoint, [next((phantom_dir / "images").iterdir())])
    assert result[0]["prediction"] in info.class_names
    assert sum(result[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_not_a_checkpoint_is_a_user_error(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a medxai checkpoint"):
        read_checkpoint_info(tmp_path / "junk.pt")
    with pytest.raises(UserError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.pt")
    # one line, without torch's advice to load with weights_only=False (which would run code from the file)
    (tmp_path / "notes.txt").write_text("not a checkpoint\n" * 5)
    with pytest.raises(UserError) as raised:
        read_checkpoint_info(tmp_path / "notes.txt")
    assert "\n" not in str(raised.value) and "weights_only" not in str(raised.value)


def test_training_is_deterministic_under_a_seed(phantom_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        config = TrainConfig(data=str(phantom_dir), out=str(tmp_path / name), model="resnet18_attention",
                             image_size=32, epochs=1, alpha_exp=0.0, seed=7)
        runs.append(train(config))
        runs[-1]["state"] = load_checkpoint(tmp_path / name / "best.pt")[0].state_dict()
    assert runs[0]["val_loss"] == runs[1]["val_loss"]
    assert all(torch.equal(runs[0]["state"][k], runs[1]["state"][k]) for k in runs[0]["state"])


def test_cross_validation_folds_are_grouped_and_stratified(phantom_dir):
    spec = load_dataset(phantom_dir)
    for record in spec.records:  # pretend every 4 consecutive images are one patient
        record.group = record.image_id[:-1] + str(int(record.image_id[-1]) // 4)
    pool = training_pool(spec)
    assert all(spec.records[i].split == "train" for i in pool)
    seen = []
    for fold, train_idx, val_idx in folds(spec, pool, 3, 0.2, seed=42):
        groups_train = {spec.records[i].group for i in train_idx}
        assert not groups_train & {spec.records[i].group for i in val_idx}
        labels = spec.targets()[val_idx]
        assert 0.3 < labels.mean() < 0.7
        seen.extend(val_idx)
    assert sorted(seen) == sorted(pool)


def test_k_fold_training_selects_the_best_fold(phantom_dir, tmp_path):
    metrics = train(TrainConfig(data=str(phantom_dir), out=str(tmp_path), model="resnet18_attention", image_size=32,
                                epochs=1, folds=2, alpha_exp=0.0))
    assert len(metrics["folds"]) == 2 and (tmp_path / "fold1" / "best.pt").is_file()
    best = max(metrics["folds"], key=lambda f: f["auc"])
    assert metrics["selected_fold"] == best["fold"] and metrics["auc"] == best["auc"]
    assert set(metrics["mean"]) >= {"accuracy", "auc", "f1"}


def test_one_fold_per_call_and_the_last_to_finish_selects(phantom_dir, tmp_path):
    config = {"data": str(phantom_dir), "out": str(tmp_path), "model": "resnet18_attention", "image_size": 32,
              "epochs": 1, "folds": 2, "alpha_exp": 0.0}
    first = train(TrainConfig(**config, fold=1))  # Job indexes finish in any order
    assert first["selected_fold"] is None and first["folds_finished"] == 1 and first["fold"] == 1
    assert (tmp_path / "fold1" / "best.pt").is_file() and not (tmp_path / "fold0").exists()
    assert not (tmp_path / "best.pt").exists()
    last = train(TrainConfig(**config, fold=0))
    assert [f["fold"] for f in last["folds"]] == [0, 1] and (tmp_path / "best.pt").is_file()
    assert last["selected_fold"] == max(last["folds"], key=lambda f: (f["auc"], -f["val_loss"]))["fold"]
    with pytest.raises(UserError, match="--fold must be between 0 and 1"):
        train(TrainConfig(**config, fold=2))


def test_multi_label_training_masks_uncertain_findings(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 2, (40, 3)).astype(float)
    np.savez(tmp_path / "chest.npz", train_images=images, train_labels=labels)
    metrics = train(TrainConfig(data=str(tmp_path / "chest.npz"), out=str(tmp_path / "run"),
                                model="resnet18_attention", image_size=32, epochs=1, alpha_exp=0.0))
    _, info = load_checkpoint(tmp_path / "run" / "best.pt")
    assert info.multi_label and np.isfinite(metrics["val_loss"])
    assert info.temperature > 0 and 0 <= metrics["ece_after"] <= 1  # one T on the sigmoid NLL


def test_uncertain_findings_are_masked_out_of_the_loss_and_the_metrics():
    """CheXpert's U-Ignore: an UNCERTAIN target takes no part in the loss (no value, no gradient) or the AUC."""
    from medxai.data.records import UNCERTAIN
    from medxai.metrics.classification import classification_metrics
    from training.losses import ClassificationLoss
    loss = ClassificationLoss(torch.tensor([1.0, 2.0, 0.5]), multi_label=True, label_smoothing=0.1)
    targets = torch.tensor([[1.0, 0.0, UNCERTAIN], [UNCERTAIN, 1.0, 0.0], [0.0, UNCERTAIN, 1.0]])
    logits = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    value = loss(logits, targets)
    value.backward()
    uncertain = targets == UNCERTAIN
    assert torch.all(logits.grad[uncertain] == 0) and torch.all(logits.grad[~uncertain] != 0)
    known = loss(logits.detach().masked_fill(uncertain, 50.0), targets)
    assert known.item() == pytest.approx(value.item())  # whatever the model says where the label is unknown
    smoothed = targets.clamp_min(0) * 0.9 + 0.05
    by_hand = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.detach(), smoothed, pos_weight=torch.tensor([1.0, 2.0, 0.5]), reduction="none")[~uncertain].mean()
    assert value.item() == pytest.approx(by_hand.item(), rel=1e-6)

    probabilities = np.array([[0.9, 0.2, 0.0], [0.1, 0.8, 0.3], [0.2, 0.9, 0.7], [0.8, 0.1, 0.4]])
    labels = np.array([[1, 0, UNCERTAIN], [0, 1, 0], [0, UNCERTAIN, 1], [1, 0, 0]])
    scored = classification_metrics(probabilities, labels, ["a", "b", "c"], multi_label=True)
    assert scored["per_class_auc"] == {"a": 1.0, "b": 1.0, "c": 1.0}  # the uncertain 0.0 and 0.9 would cost AUC
