"""Training recipes (training/recipes.py): which settings `medxai train` fills in for what it is not given."""

import json

import pytest

from medxai.errors import UserError
from tests.cli import assert_user_error, medxai
from training.recipes import RECIPES, resolve


def test_random_weights_get_the_scratch_recipe_and_imagenet_weights_the_papers():
    assert resolve(None, None, {}) == ("scratch", RECIPES["scratch"])
    assert resolve(None, "weights.pth", {}) == ("paper", RECIPES["paper"])
    assert RECIPES["paper"]["lr"] == 1e-4 and RECIPES["paper"]["image_size"] == 224  # the paper's §3.6


def test_what_is_given_wins_and_guidance_is_dropped_for_a_model_without_attention():
    name, settings = resolve("scratch", None, {"lr": 3e-4, "epochs": None})
    assert name == "scratch" and settings["lr"] == 3e-4 and settings["epochs"] == RECIPES["scratch"]["epochs"]
    assert resolve(None, None, {"model": "resnet50"})[1]["guidance"] == "none"
    assert resolve(None, None, {"model": "resnet50", "guidance": "attention"})[1]["guidance"] == "attention"
    with pytest.raises(UserError, match="unknown --recipe 'fast'"):
        resolve("fast", None, {})


def test_train_records_the_recipe_it_filled_in(phantom_dir, tmp_path):
    run = tmp_path / "run"
    result = medxai("train", "--data", str(phantom_dir), "--out", str(run), "--image-size", "32", "--epochs", "1",
                    "--folds", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == "scratch" and config["image_size"] == 32 and config["epochs"] == 1
    assert {key: config[key] for key in ("model", "lr", "alpha_exp", "guidance")} == \
        {key: RECIPES["scratch"][key] for key in ("model", "lr", "alpha_exp", "guidance")}
    assert_user_error(medxai("train", "--data", str(phantom_dir), "--out", str(tmp_path / "other"),
                             "--recipe", "fast"), "unknown --recipe 'fast'")
