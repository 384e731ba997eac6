"""Integrated Gradients (Sundararajan et al.; seed paper §3.4) via Captum, with Gauss-Legendre quadrature.

Gauss-Legendre reaches the 50-step Riemann answer in far fewer steps; the step count doubles from `steps`
until every image's completeness gap |sum(attributions) - (f(x) - f(x'))| / |f(x) - f(x')| is within
`tolerance` (or `max_steps` is reached), so speed is never bought with an unfaithful map. The gap is undefined
(`medxai.explain.undefined`) where the image equals the baseline or f(x) - f(x') is near zero.
"""

import math
import time

import torch
from captum.attr import IntegratedGradients
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from medxai.explain import undefined
from medxai.explain.base import Explanation, as_model_input, explanation, fast_mode, model_device
from medxai.metrics.faithfulness import substitute_images


def attribute(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, baselines: torch.Tensor,
              steps: int, method: str = "gausslegendre", precision: str = "auto",
              internal_batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attributions [N,3,H,W] (fp32, on the CPU), the relative completeness gap and f(x) - f(x') per image, in
    one Captum call."""
    targets = targets.to(model_device(model))
    with fast_mode(model, precision):
        attributions, delta = IntegratedGradients(model).attribute(
            as_model_input(model, images, precision), baselines=as_model_input(model, baselines, precision), target=targets,
            n_steps=steps, method=method, internal_batch_size=internal_batch_size, return_convergence_delta=True)
        with torch.no_grad():
            difference = (model(as_model_input(model, images, precision)) - model(as_model_input(model, baselines, precision))).float()
    difference = difference.gather(1, targets.view(-1, 1)).squeeze(1)
    gaps = delta.detach().float().abs() / difference.abs().clamp_min(1e-6)
    return attributions.detach().float().cpu(), gaps.cpu(), difference.cpu()


SMOOTHING = 0.06
"""Default Gaussian sigma of IG's pixel map as a fraction of the image side (about 8 px at 128 px): IG's
per-pixel speckle hides where the evidence lies; chosen by measurement (docs/evidence/maps.md)."""


def smoothed(pixel_maps: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Maps [N,H,W] blurred by a Gaussian of sigma `smoothing` x the longer side (0: unchanged). A blur is a
    local average, so it keeps the sign and the total of the attributions and only spreads them."""
    if smoothing <= 0:
        return pixel_maps
    sigma = smoothing * max(pixel_maps.shape[-2:])
    kernel = min(2 * math.ceil(3 * sigma) + 1, 2 * (min(pixel_maps.shape[-2:]) // 2) - 1)
    return gaussian_blur(pixel_maps[:, None], [kernel, kernel], [sigma, sigma])[:, 0]


def ig_explanation(attributions: torch.Tensor, diagnostics: list[dict], smoothing: float, start: float) -> Explanation:
    """The IG Explanation of attributions [N,3,H,W]: summed over colour channels, `smoothed`, on the one scale.
    Shared by this module and the service's chunked IG, so both give the same maps."""
    pixel_maps = smoothed(attributions.sum(dim=1), smoothing)
    diagnostics = [{**d, "smoothing": smoothing} for d in diagnostics]
    return explanation("ig", pixel_maps, attributions, diagnostics, start)


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, steps: int = 8, max_steps: int = 64,
            tolerance: float = 0.05, baseline: str = "zero", method: str = "gausslegendre", precision: str = "auto",
            internal_batch_size: int = 64, smoothing: float = SMOOTHING) -> Explanation:
    """Maps: attributions summed over colour channels, `smoothed`, then `normalise`d. Raw output: attributions
    [N,3,H,W].

    `baseline` x' is 'zero' (black) or 'blur' (the image blurred, as the faithfulness metrics' substitute).
    `steps=50, max_steps=50, method='riemann_trapezoid', precision='fp32', smoothing=0` gives the textbook
    50-step computation.
    """
    start = time.perf_counter()
    baselines = substitute_images(images, baseline)
    while True:
        attributions, gaps, differences = attribute(model, images, targets, baselines, steps, method, precision,
                                                    internal_batch_size)
        reasons = gap_reasons(images, baselines, differences)
        if all(reason or gap <= tolerance for gap, reason in zip(gaps.tolist(), reasons)) or steps * 2 > max_steps:
            break
        steps *= 2
    # converged: the gap met `tolerance` (False: it still did not at `max_steps`; None: the gap is undefined)
    diagnostics = [undefined.mark({"steps": steps, "method": method, "baseline": baseline,
                                   "converged": None if reason else gap <= tolerance}, "completeness_gap", gap, reason)
                   for gap, reason in zip(gaps.tolist(), reasons)]
    return ig_explanation(attributions, diagnostics, smoothing, start)


def gap_reasons(images: torch.Tensor, baselines: torch.Tensor, differences: torch.Tensor) -> list[str | None]:
    """Per image, why its completeness gap is undefined (None where it is defined): more steps cannot help."""
    same = (images.cpu() == baselines.cpu()).flatten(1).all(1).tolist()
    return [undefined.completeness_gap_reason(equal, difference)
            for equal, difference in zip(same, differences.tolist())]
