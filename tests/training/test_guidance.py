"""Lesion guidance (training/guidance.py): which images count, what each term measures, and that training with
the attention term puts the spatial gate on the lesion."""

import json

import pytest
import torch
from torch import nn

from medxai.errors import UserError
from medxai.models import build_model
from tests.cli import assert_user_error, medxai
from tests.recipe import PHANTOM_RECIPE
from training import guidance
from training.trainer import TrainConfig, train


def square_masks() -> torch.Tensor:
    """Four 16 px masks: a lesion in the top-left quarter, an empty mask, no mask (255), a lesion again."""
    masks = torch.zeros(4, 16, 16, dtype=torch.uint8)
    masks[0, :8, :8] = 1
    masks[2] = 255
    masks[3, :8, :8] = 1
    return masks


def test_only_images_with_a_lesion_in_their_region_count():
    assert guidance.annotated(square_masks()).tolist() == [0, 3]


def test_attention_loss_is_low_when_the_gate_covers_the_region_and_high_when_it_avoids_it():
    masks = square_masks()
    region = torch.nn.functional.adaptive_avg_pool2d(masks[:, None].float().clamp(max=1), (4, 4))
    on_region = (region * 2 - 1) * 8  # logits: +8 on the lesion, -8 elsewhere
    assert guidance.attention_loss(on_region, masks) < 0.01
    assert guidance.attention_loss(-on_region, masks) > 3
    assert abs(guidance.attention_loss(torch.zeros(4, 1, 4, 4), masks) - 0.6931) < 1e-4  # a flat gate: log 2
    assert guidance.attention_loss(on_region, torch.full((4, 16, 16), 255, dtype=torch.uint8)).item() == 0


class QuarterModel(nn.Module):
    """Two logits from the mean of one quarter of the image: the top-left one or the bottom-right one."""

    def __init__(self, top_left: bool):
        super().__init__()
        self.top_left = top_left
        self.weight = nn.Parameter(torch.tensor([1.0, -1.0]))

    def forward(self, pixels):
        quarter = pixels[:, :, :8, :8] if self.top_left else pixels[:, :, 8:, 8:]
        return quarter.mean(dim=(1, 2, 3))[:, None] ** 2 * self.weight


def test_rrr_loss_is_the_share_of_gradient_energy_outside_the_region():
    images, masks = torch.rand(4, 3, 16, 16), square_masks()
    looks_inside, looks_outside = QuarterModel(top_left=True), QuarterModel(top_left=False)
    inside = guidance.rrr_loss(looks_inside, images, masks, count=8)
    outside = guidance.rrr_loss(looks_outside, images, masks, count=8)
    assert inside.item() < 1e-6 and abs(outside.item() - 1) < 1e-6
    outside.backward()  # double backprop reaches the weights
    assert looks_outside.weight.grad is not None


def test_attention_guidance_teaches_the_gate_the_lesions_of_unseen_images(trained_checkpoint, phantom_dir,
                                                                            tmp_path):
    """The shared model's recipe (`tests.recipe`) with attention guidance: on the held-out test phantoms the
    gate's cross-entropy against the lesion is less than half the unguided model's. (On phantoms this is all it
    does: the gate gets lower everywhere but no more focused, and the CAMs localise no better; on brain MRI it
    lifts them, see the README.)"""
    from medxai.checkpoint import load_checkpoint
    from medxai.data import ImageDataset, load_dataset
    from medxai.explain.evaluation import localised_items
    spec = load_dataset(phantom_dir)
    test = spec.subset([i for i, record in enumerate(spec.records) if record.split == "test"])
    items = localised_items(ImageDataset(test, 64, cache=False), 24)
    images, masks = torch.stack([i["image"] for i in items]), torch.stack([i["mask"] for i in items])
    train(TrainConfig(data=str(phantom_dir), out=str(tmp_path), **PHANTOM_RECIPE, guidance="attention"))
    history = json.loads((tmp_path / "fold0" / "history.json").read_text())
    assert history[-1]["guidance_loss"] < history[0]["guidance_loss"]
    losses = {}
    for name, checkpoint in (("none", trained_checkpoint), ("attention", tmp_path / "best.pt")):
        model, _ = load_checkpoint(checkpoint)
        with torch.no_grad(), guidance.gate_logits(model) as record:
            model(images)
        losses[name] = guidance.attention_loss(record["logits"], masks).item()
    assert losses["attention"] < 0.5 * losses["none"], losses


def test_guidance_needs_an_attention_model_and_a_known_kind(phantom_dir, tmp_path):
    common = ("train", "--data", str(phantom_dir), "--out", str(tmp_path / "run"), "--image-size", "32",
              "--epochs", "1")
    assert_user_error(medxai(*common, "--model", "resnet50", "--guidance", "attention"), "attention module")
    assert not (tmp_path / "run").exists()  # refused before the run folder is written
    # the other refusals are checked before anything is read: in process (the command line prints UserError's line)
    config = {"data": str(phantom_dir), "out": str(tmp_path / "run"), "model": "resnet18_attention"}
    with pytest.raises(UserError, match="--guidance must be one of none, rrr, attention"):
        train(TrainConfig(**config, guidance="saliency"))
    with pytest.raises(UserError, match=r"--guidance-share in \(0, 1\]"):
        train(TrainConfig(**config, guidance_share=0))


def test_build_model_has_one_spatial_gate():
    model = build_model("resnet18_attention", 2)
    assert guidance.spatial_gate(model) is model.features.attention.spatial_gate
