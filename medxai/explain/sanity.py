"""Model-randomisation sanity check (Adebayo et al. 2018): an explanation that survives randomising the top
layers' weights does not explain the model. The maps before and after must differ (low rank correlation).
A dead map of the model (constant, or nothing positive) has no ranking, so it cannot show that it depends on
the weights: it scores 1 (unchanged), not the 0 a rank correlation with a constant would give, which would pass
as "changed"."""

import copy
import math

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from medxai.explain.pipeline import DEFAULT_METHODS, run_methods


def top_modules(model: nn.Module, count: int) -> list[str]:
    """The head and the last `count - 1` stages of `model.features`, top first (the cascade of Adebayo et al.)."""
    stages = [name for name, _ in model.features.named_children()]
    return ["head"] + [f"features.{name}" for name in reversed(stages)][:count - 1]


def randomise(model: nn.Module, names: list[str], seed: int = 0) -> nn.Module:
    """A copy of `model` whose named submodules have freshly initialised weights."""
    torch.manual_seed(seed)
    randomised = copy.deepcopy(model)
    for name in names:
        for module in randomised.get_submodule(name).modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return randomised


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman correlation of two maps' pixels; 0 when either map is constant (no ranking to agree with)."""
    if a.std() == 0 or b.std() == 0:
        return 0.0
    correlation = float(spearmanr(a.flatten().numpy(), b.flatten().numpy())[0])
    return 0.0 if math.isnan(correlation) else correlation


def model_randomisation_check(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                              methods: tuple[str, ...] | list[str] = DEFAULT_METHODS, layers: int = 2,
                              threshold: float = 0.5, seed: int = 0, options: dict[str, dict] | None = None,
                              precision: str = "auto") -> dict:
    """The check on every map in `methods` (default: the maps we serve), images [N,3,H,W], targets [N].

    Per method: the mean Spearman correlation between its maps ([0, 1], as served) of the model and of a copy
    with its top `layers` randomised, and the images whose map is dead (`base.liveness`), which score 1. The
    model `passed` when the decisive map (the fused one when asked for, else the first) changes (mean below
    `threshold`) and not every map is dead on every image; the other methods are reported, a dead optional
    method is not a reason to refuse. `explanations` are the model's own (not randomised) maps by method, for
    checks that need them too."""
    names = top_modules(model, layers)
    before = run_methods(model, images, targets, list(methods), options, precision)
    after = run_methods(randomise(model, names, seed).eval(), images, targets, list(methods), options, precision)
    report = {}
    for method in methods:
        dead = before[method].dead
        per_image = [1.0 if gone else rank_correlation(a, b)
                     for gone, a, b in zip(dead, before[method].maps, after[method].maps)]
        spearman = float(np.mean(per_image))
        report[method] = {"spearman": spearman, "per_image": per_image,
                          "dead": [index for index, gone in enumerate(dead) if gone], "passed": spearman < threshold}
    decisive = "fusion" if "fusion" in methods else methods[0]
    all_dead = all(len(report[method]["dead"]) == len(images) for method in methods)
    return {"methods": report, "decisive": decisive, "randomised": names, "threshold": threshold,
            "spearman": report[decisive]["spearman"], "all_dead": all_dead,
            "passed": report[decisive]["passed"] and not all_dead, "explanations": before}
