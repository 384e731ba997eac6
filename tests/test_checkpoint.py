"""Checkpoints written before calibration existed still load, uncalibrated (T = 1)."""

import dataclasses

import pytest
import torch

from medxai.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint
from medxai.errors import UserError
from medxai.models import build_model


def _info(**changes) -> CheckpointInfo:
    return dataclasses.replace(CheckpointInfo("resnet18_attention", {}, ["a", "b"], False, 64, [0.5] * 3, [0.25] * 3),
                               **changes)


def test_a_checkpoint_without_temperature_loads_with_t1(tmp_path):
    path = save_checkpoint(tmp_path / "new.pt", build_model("resnet18_attention", 2), _info())
    raw = torch.load(path, weights_only=True)
    del raw["info"]["temperature"]  # as every checkpoint before calibration was written
    torch.save(raw, tmp_path / "old.pt")
    model, info = load_checkpoint(tmp_path / "old.pt")
    assert info.temperature == 1.0 and model.temperature == 1.0


def test_the_model_carries_the_stored_temperature(tmp_path):
    model, info = load_checkpoint(save_checkpoint(tmp_path / "t.pt", build_model("resnet18_attention", 2), _info(temperature=1.7)))
    assert info.temperature == model.temperature == 1.7
    logits = torch.tensor([[2.0, -1.0]])
    assert torch.allclose(model.probabilities(logits), torch.softmax(logits / 1.7, dim=1))


def test_a_non_positive_temperature_is_refused(tmp_path):
    save_checkpoint(tmp_path / "bad.pt", build_model("resnet18_attention", 2), _info(temperature=0.0))
    with pytest.raises(UserError, match="temperature"):
        load_checkpoint(tmp_path / "bad.pt")
