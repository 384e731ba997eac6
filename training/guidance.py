"""Lesion guidance: training terms that use the expert masks or boxes a dataset has, so the model looks where
the lesion is rather than at whatever else separates the classes.

- `attention`: the attention module's spatial gate is supervised by the expert region (binary cross-entropy of
  the gate's logits against the region's share of each cell). Cheap: no extra forward pass.
- `rrr`: "right for the right reasons" (Ross, Hughes & Doshi-Velez, IJCAI 2017): penalise the input gradient of
  the log-probabilities outside the expert region, on a few images a step (double backpropagation).

Only images whose region holds at least one lesion pixel count: a healthy image's empty mask says nothing about
where to look, and images without a mask or box (the dataset's mask of 255 everywhere) contribute nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from medxai.errors import UserError
from medxai.models.attention import SpatialGate

KINDS = ("none", "rrr", "attention")
"""The `--guidance` choices."""


def annotated(masks: torch.Tensor) -> torch.Tensor:
    """Indices of the images whose mask [N,H,W] (uint8 {0, 1}; 255 everywhere without one) has a lesion pixel."""
    return torch.nonzero((masks == 1).flatten(1).any(dim=1)).flatten()


def spatial_gate(model: nn.Module) -> SpatialGate:
    """The model's attention spatial gate. Raises UserError for a model without one."""
    gates = [module for module in model.modules() if isinstance(module, SpatialGate)]
    if not gates:
        raise UserError("--guidance attention needs a model with an attention module (an *_attention architecture)")
    return gates[0]


@contextmanager
def gate_logits(model: nn.Module) -> Iterator[dict]:
    """Records the spatial gate's pre-sigmoid logits [N,1,h,w] of each forward pass in `record["logits"]`."""
    record: dict = {}
    handle = spatial_gate(model).conv.register_forward_hook(lambda module, inputs, output: record.update(logits=output))
    try:
        yield record
    finally:
        handle.remove()


def attention_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy between the gate's logits [N,1,h,w] and each cell's lesion share (the mask
    [N,H,W] average-pooled to h x w), over the annotated images; 0 (with a graph) when none is annotated.

    The share of the gate's weight outside the region, tried as well, barely moved in training (demo phantoms:
    0.91 to 0.90 in 20 epochs) and localised worse."""
    chosen = annotated(masks)
    if len(chosen) == 0:
        return logits.sum() * 0.0
    region = F.adaptive_avg_pool2d(masks[chosen, None].float(), logits.shape[-2:])
    return F.binary_cross_entropy_with_logits(logits[chosen].float(), region)


def rrr_loss(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, count: int,
             multi_label: bool = False) -> torch.Tensor:
    """Share of the input-gradient energy outside the expert region, mean over up to `count` annotated images.

    Ross et al. sum the squared gradient of the summed log-probabilities outside the region; we divide by the
    gradient's total energy so one weight suits any model and image size (the share lies in [0, 1]).
    images [N,3,H,W] in [0, 1], masks [N,H,W]. Costs one forward and a double backward on `count` images."""
    chosen = annotated(masks)[:count]
    if len(chosen) == 0:
        return images.new_zeros(()).requires_grad_()
    pixels = images[chosen].detach().clone().requires_grad_(True)
    logits = model(pixels).float()
    log_probabilities = F.logsigmoid(logits) if multi_label else F.log_softmax(logits, dim=1)
    gradient, = torch.autograd.grad(log_probabilities.sum(), pixels, create_graph=True)
    energy = gradient.float().pow(2).sum(dim=1)
    outside = (masks[chosen] == 0).float()
    return ((energy * outside).flatten(1).sum(1) / energy.flatten(1).sum(1).clamp_min(1e-12)).mean()
