"""The explanation-consistency loss L_exp = mean (H_GC - H_IG)^2 on normalised maps (seed paper §3.8).

Captum's attributions are detached from the weights, so Grad-CAM and Integrated Gradients are written here
again on the same definitions with `create_graph=True` (double backpropagation), and tests check they agree
with the serving versions in `gradcam` and `integrated_gradients` on the same inputs.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from medxai.explain.base import class_scores, normalise
from medxai.metrics.faithfulness import substitute_images


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Explain the deployed function: batch-norm running statistics are used (and left untouched by the
    interpolated IG images) and dropout is off; the training mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def gradcam_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ReLU(sum_k alpha_k A^k) on `model.gradcam_module()`, upsampled to [N,H,W]; differentiable in the weights."""
    captured: list[torch.Tensor] = []
    handle = model.gradcam_module().register_forward_hook(lambda _module, _inputs, output: captured.append(output))
    try:
        scores = class_scores(model, images, targets)
    finally:
        handle.remove()
    activations = captured[0]
    gradients, = torch.autograd.grad(scores.sum(), activations, create_graph=True)
    cams = F.relu((gradients.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1, keepdim=True))
    return F.interpolate(cams.float(), size=tuple(images.shape[-2:]), mode="bilinear")[:, 0]


def ig_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, steps: int = 8,
            baseline: str = "zero") -> torch.Tensor:
    """Gauss-Legendre Integrated Gradients summed over channels, [N,H,W]; differentiable in the weights.
    All `steps` interpolated batches go through the model in one forward pass."""
    nodes, node_weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=images.dtype, device=images.device).view(-1, 1, 1, 1, 1)
    step_sizes = torch.tensor(0.5 * node_weights, dtype=torch.float32, device=images.device).view(-1, 1, 1, 1, 1)
    baselines = substitute_images(images, baseline)
    path = (baselines + alphas * (images - baselines)).flatten(0, 1).detach().requires_grad_(True)
    scores = class_scores(model, path, targets.repeat(steps))
    gradients, = torch.autograd.grad(scores.sum(), path, create_graph=True)
    averaged = (gradients.float().view(steps, *images.shape) * step_sizes).sum(dim=0)
    return ((images - baselines).float() * averaged).sum(dim=1)


def consistency_loss(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, ig_steps: int = 8) -> torch.Tensor:
    """L_exp: mean squared difference of the normalised Grad-CAM and IG maps; a scalar with gradients for the
    weights. Costs about (1 + ig_steps) forward and double-backward passes per image: apply it to few images."""
    with evaluation_mode(model):
        gradcam = normalise(gradcam_maps(model, images, targets))
        ig = normalise(ig_maps(model, images, targets, ig_steps))
    return ((gradcam - ig) ** 2).mean()
