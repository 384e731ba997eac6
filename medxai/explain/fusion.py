"""The fused map (seed paper §3.4): H = 0.4 GC + 0.4 IG + 0.2 LIME, on maps already brought to one scale.

Every component map is `normalise`d (positive part / 99th percentile, clipped to [0, 1]) before the weighted
sum, and the weights are divided by their total, so the fused map is in [0, 1] too.
"""

import time

import torch
from torch import nn

from medxai.explain import gradcam, integrated_gradients, lime
from medxai.explain.base import Explanation

WEIGHTS = {"gradcam": 0.4, "ig": 0.4, "lime": 0.2}


def fuse(maps: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> torch.Tensor:
    """sum_m w_m H_m / sum_m w_m over the methods in `maps` (each [N,H,W] in [0, 1])."""
    weights = weights or WEIGHTS
    missing = set(maps) - set(weights)
    if missing:
        raise ValueError(f"no fusion weight for {sorted(missing)}")
    total = sum(weights[name] for name in maps)
    if total <= 0:
        raise ValueError("fusion weights of the given maps must sum to more than 0")
    return sum(weights[name] * maps[name] for name in maps) / total


def fuse_explanations(parts: list[Explanation], weights: dict[str, float] | None = None) -> Explanation:
    """The fused Explanation of already computed method explanations; raw output: the parts by method."""
    fused = fuse({part.method: part.maps for part in parts}, weights)
    diagnostics = [{part.method: part.diagnostics[i] for part in parts} for i in range(len(fused))]
    return Explanation("fusion", fused, unscaled=fused, raw={part.method: part for part in parts},
                       diagnostics=diagnostics, seconds=sum(part.seconds for part in parts))


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, weights: dict[str, float] | None = None,
            precision: str = "auto") -> Explanation:
    """Grad-CAM, Integrated Gradients and LIME at their defaults, fused."""
    start = time.perf_counter()
    parts = [module.explain(model, images, targets, precision=precision) for module in (gradcam, integrated_gradients, lime)]
    fused = fuse_explanations(parts, weights)
    fused.seconds = time.perf_counter() - start
    return fused
