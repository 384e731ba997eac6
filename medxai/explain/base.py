"""The one interface every explanation method shares, and the one scale every map is brought to.

A method is a function `explain(model, images, targets, **options) -> Explanation`: `images` are raw pixels
[N,3,H,W] in [0, 1] (as the model takes them), `targets` the class explained per image. Maps come back at
input resolution on one scale, so that they can be fused, compared and scored.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from medxai.precision import use_bf16

PERCENTILE = 0.99
KNEE = 0.9
"""`normalise` maps the 99th percentile of a map's positive part to KNEE and its maximum to 1."""


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """One scale for every map [N,H,W], in [0, 1], keeping the order of the pixels.

    The positive part is divided by its 99th percentile (per map) and that value lands at KNEE (0.9); the top
    1 % above it is squeezed linearly into (0.9, 1], so the display keeps the contrast of a percentile clip
    while the map's maximum stays one pixel: a clip at the percentile made a plateau of tied maxima that the
    pointing game then split (issue 17: IG's pointing game 0.667 before the clip, 0.526 after). Differentiable
    (the training-time consistency loss uses it too). A map with no positive value stays 0.
    """
    positive = maps.float().clamp_min(0)
    flat = positive.flatten(1)
    scale = torch.quantile(flat, PERCENTILE, dim=1).clamp_min(1e-12)[:, None, None]
    top = flat.max(dim=1).values[:, None, None]
    below = KNEE * positive / scale
    above = KNEE + (1 - KNEE) * (positive - scale) / (top - scale).clamp_min(1e-12)
    return torch.where(positive <= scale, below, above).clamp(0, 1) * (top > 0)


def liveness(unscaled: torch.Tensor) -> list[dict]:
    """Per map [N,H,W] of signed evidence: `dead` when nothing positive is left (all <= 0, or constant: no
    pixel is preferred to another), and `relu_removed`, the share of the map's absolute mass that is negative
    and that `normalise` (the ReLU of CAMs) drops. A dead map explains nothing and is never shown or fused as if
    it did (issue 17: the paper's Grad-CAM at the attention output was dead on 32 of 40 phantom images)."""
    out = []
    for saliency in unscaled.float():
        positive = saliency.clamp_min(0)
        total = saliency.abs().sum()
        dead = bool(positive.max() <= 0 or positive.max() == positive.min())
        removed = float((total - positive.sum()) / total) if total > 0 else 1.0
        out.append({"dead": dead, "relu_removed": round(removed, 4)})
    return out


@dataclass
class Explanation:
    """Maps [N,H,W] in [0, 1] (see `normalise`); `unscaled`, the same maps before `normalise` (signed, for rank
    comparisons); the method's raw output; per-image diagnostics; seconds taken."""

    method: str
    maps: torch.Tensor
    unscaled: torch.Tensor
    raw: Any = None
    diagnostics: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def dead(self) -> list[bool]:
        """Per image, whether the map is dead (see `liveness`)."""
        return [bool(d.get("dead", False)) for d in self.diagnostics]


def explanation(method: str, unscaled: torch.Tensor, raw: Any, diagnostics: list[dict], start: float,
                signed: torch.Tensor | None = None) -> Explanation:
    """The Explanation of maps `unscaled` [N,H,W]: `normalise`d maps, and each image's diagnostics with the
    `liveness` of `signed` (default: `unscaled`; a CAM passes its layer-resolution map before the ReLU) added;
    `start` is the method's `time.perf_counter()` at its start."""
    alive = liveness(unscaled if signed is None else signed)
    diagnostics = [{**given, **state} for given, state in zip(diagnostics, alive)]
    return Explanation(method, normalise(unscaled), unscaled=unscaled, raw=raw, diagnostics=diagnostics,
                       seconds=time.perf_counter() - start)


@contextmanager
def fast_mode(model: nn.Module, precision: str) -> Iterator[None]:
    """Where `precision` resolves to bf16 on the model's device (see `medxai.precision`): bf16 autocast with
    channels_last weights (2.8x faster than fp32 on an AVX512-bf16 CPU, more with AMX); otherwise nothing.

    The weights' memory layout is put back afterwards (fp32 runs slower on channels_last weights); the layout
    changes happen outside inference mode, so the weights stay usable for gradients.
    """
    if not use_bf16(precision, model_device(model)):
        yield
        return
    convolution = next((p for p in model.parameters() if p.dim() == 4), None)
    was_channels_last = convolution is None or convolution.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(False):
        model.to(memory_format=torch.channels_last)
    try:
        with torch.autocast(model_device(model).type, dtype=torch.bfloat16):
            yield
    finally:
        if not was_channels_last:
            with torch.inference_mode(False):
                model.to(memory_format=torch.contiguous_format)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights live; explainers move their inputs there and their outputs back to the CPU."""
    return next(model.parameters()).device


def as_model_input(model: nn.Module, images: torch.Tensor, precision: str) -> torch.Tensor:
    """Images on the model's device, in the memory format `fast_mode` expects."""
    device = model_device(model)
    images = images.to(device)
    return images.contiguous(memory_format=torch.channels_last) if use_bf16(precision, device) else images.contiguous()


def predict_probabilities(model: nn.Module, images: torch.Tensor, precision: str = "auto") -> torch.Tensor:
    """Probabilities [B,C] on the CPU, without gradients, in `fast_mode`."""
    with torch.inference_mode(), fast_mode(model, precision):
        return model.probabilities(model(as_model_input(model, images, precision)).float()).cpu()


def class_scores(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The explained quantity: the target class's logit per image, in fp32."""
    return model(images).float().gather(1, targets.view(-1, 1)).squeeze(1)


def log_odds(probabilities: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Log-odds log(p / (1 - p)) [N,C] of probabilities [N,C], in fp64.

    Why: a confident model's probability is 1.0 to the last bit of fp32 (softmax margins near 60 on the demo's
    phantoms: the other class at 1e-26), so a method that explains the probability sees nothing change when
    it hides evidence; its log-odds still move. For softmax outputs 1 - p is taken as the sum of the other
    classes' probabilities, which stays representable (down to fp32's 1e-38) where 1 - p rounds to 0. Sigmoid
    outputs (`multi_label`) have no such sum and saturate where p rounds to 1 (a logit over about 17).
    """
    p = probabilities.double()
    tiny = torch.finfo(torch.float32).tiny
    others = 1 - p if multi_label else p @ (1 - torch.eye(p.shape[1], dtype=p.dtype, device=p.device))
    return torch.log(p.clamp_min(tiny)) - torch.log(others.clamp_min(tiny))
