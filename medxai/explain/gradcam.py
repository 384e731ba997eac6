"""The seed paper's Grad-CAM (§3.4): Grad-CAM on the attention module's output (`model.gradcam_layer`), the
class logit explained. Kept under its name so that the paper's numbers can be recomputed; the product's
default class-activation map is `cam.explain` at its defaults (see `medxai.explain.cam`)."""

import torch
from torch import nn

from medxai.explain import cam
from medxai.explain.base import Explanation


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, layer: str = "paper",
            precision: str = "fp32") -> Explanation:
    """ReLU(sum_k alpha_k A^k), alpha_k the spatial mean of d logit / d A^k, on `layer` (default: the paper's),
    upsampled bilinearly to the input [N,H,W]. Raw output: the signed layer-resolution maps [N,h,w]."""
    return cam.explain(model, images, targets, variant="gradcam", layer=layer, score="logit", precision=precision)
