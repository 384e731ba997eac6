"""Integrated Gradients in bounded chunks, so that no request holds the shared PyTorch model for long.

IG with Gauss-Legendre quadrature is a weighted sum of the model's gradients at `steps` points on the straight
path from the baseline x' to the image x. The points are taken `chunk` at a time, each chunk inside `turn()`
(the model lock), which is given up between chunks: a Grad-CAM request waits for one chunk, never for a
256-step IG. Nodes, weights and the completeness check are those of `medxai.explain.integrated_gradients`
(Captum, method 'gausslegendre'), so the maps are the same; IG runs in fp32 as there (see
`medxai.explain.pipeline.FULL_PRECISION`).
"""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import torch
from torch import nn

from medxai.explain import undefined
from medxai.explain.base import Explanation, model_device
from medxai.explain.integrated_gradients import SMOOTHING, gap_reasons, ig_explanation
from medxai.metrics.faithfulness import substitute_images

CHUNK_STEPS = 8
"""Path points per turn on the model (the default step count: default requests take one turn per round)."""
METHOD = "gausslegendre"

Turn = Callable[[], AbstractContextManager]


def gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in [0, 1] and their weights (summing to 1), as Captum's 'gausslegendre' method uses them."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1) / 2, weights / 2


def attribute(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, baselines: torch.Tensor, steps: int,
              turn: Turn, chunk: int = CHUNK_STEPS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attributions [N,3,H,W] (on the CPU), the relative completeness gap and f(x) - f(x') per image."""
    device = model_device(model)
    images, baselines, targets = images.to(device), baselines.to(device), targets.to(device)
    alphas, weights = gauss_legendre(steps)
    path_sum = torch.zeros_like(images)
    for start in range(0, steps, chunk):
        alpha = torch.tensor(alphas[start:start + chunk], dtype=images.dtype, device=device).view(-1, 1, 1, 1, 1)
        weight = torch.tensor(weights[start:start + chunk], dtype=images.dtype, device=device).view(-1, 1, 1, 1, 1)
        points = (baselines + alpha * (images - baselines)).flatten(0, 1).requires_grad_()
        with turn():
            outputs = model(points).gather(1, targets.repeat(len(alpha)).view(-1, 1)).sum()
            gradients = torch.autograd.grad(outputs, points)[0]
        path_sum += (gradients.view(len(alpha), *images.shape) * weight).sum(0)
    attributions = path_sum * (images - baselines)
    with turn(), torch.no_grad():
        difference = (model(images) - model(baselines)).gather(1, targets.view(-1, 1)).squeeze(1)
    gaps = (attributions.flatten(1).sum(1) - difference).abs() / difference.abs().clamp_min(1e-6)
    return attributions.detach().float().cpu(), gaps.float().cpu(), difference.detach().float().cpu()


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, turn: Turn, steps: int = 8,
            max_steps: int = 64, tolerance: float = 0.05, baseline: str = "zero",
            chunk: int = CHUNK_STEPS, smoothing: float = SMOOTHING) -> Explanation:
    """As `medxai.explain.integrated_gradients.explain`, the model taken in turns of `chunk` points."""
    start = time.perf_counter()
    baselines = substitute_images(images, baseline)
    while True:
        attributions, gaps, differences = attribute(model, images, targets, baselines, steps, turn, chunk)
        reasons = gap_reasons(images, baselines, differences)
        if all(reason or gap <= tolerance for gap, reason in zip(gaps.tolist(), reasons)) or steps * 2 > max_steps:
            break
        steps *= 2
    diagnostics = [undefined.mark({"steps": steps, "method": METHOD, "baseline": baseline,
                                   "chunks": -(-steps // chunk)}, "completeness_gap", gap, reason)
                   for gap, reason in zip(gaps.tolist(), reasons)]
    return ig_explanation(attributions, diagnostics, smoothing, start)


def passes(steps: int, max_steps: int) -> int:
    """Model passes (images through forward and backward) IG may take: every doubling round, plus the two
    forward passes of each round's completeness check."""
    total = 0
    while True:
        total += steps + 2
        if steps * 2 > max_steps:
            return total
        steps *= 2
