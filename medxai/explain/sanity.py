"""Model-randomisation sanity check (Adebayo et al. 2018): an explanation that survives randomising the top
layers' weights does not explain the model. The maps before and after must differ (low rank correlation).
A constant (or all-zero) map of the model has no ranking, so it cannot show that it depends on the weights: it
scores 1 (unchanged), not the 0 a rank correlation with a constant would give, which would pass as "changed"."""

import copy
import math

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from medxai.explain import METHODS


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


def model_randomisation_check(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, method: str = "gradcam",
                              layers: int = 2, threshold: float = 0.5, seed: int = 0) -> dict:
    """Mean Spearman correlation between `method`'s maps of the model and of a copy with its top `layers`
    randomised; `passed` when it is below `threshold`. Images whose map is constant (`degenerate`) score 1."""
    names = top_modules(model, layers)
    before = METHODS[method](model, images, targets).unscaled
    after = METHODS[method](randomise(model, names, seed).eval(), images, targets).unscaled
    degenerate = [index for index, saliency in enumerate(before) if saliency.std() == 0]
    per_image = [1.0 if index in degenerate else rank_correlation(a, b)
                 for index, (a, b) in enumerate(zip(before, after))]
    spearman = float(np.mean(per_image))
    return {"method": method, "randomised": names, "spearman": spearman, "per_image": per_image,
            "degenerate": degenerate, "threshold": threshold, "passed": spearman < threshold}
