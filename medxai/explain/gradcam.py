"""Grad-CAM (Selvaraju et al.; seed paper §3.4) on the model's named layer, batched, via Captum's LayerGradCam."""

import time

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from medxai.explain.base import Explanation, as_model_input, fast_mode, model_device, normalise


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, layer: nn.Module | None = None,
            precision: str = "auto") -> Explanation:
    """ReLU(sum_k alpha_k A^k) on `layer` (default `model.gradcam_module()`, the attention output), upsampled
    bilinearly to the input size. Raw output: the layer-resolution maps [N,h,w]."""
    start = time.perf_counter()
    layer = layer if layer is not None else model.gradcam_module()
    with fast_mode(model, precision):
        cams = LayerGradCam(model, layer).attribute(as_model_input(model, images, precision),
                                                    target=targets.to(model_device(model)), relu_attributions=True)
    cams = cams.detach().float().cpu()
    upsampled = LayerAttribution.interpolate(cams, tuple(images.shape[-2:]), "bilinear")[:, 0]
    return Explanation("gradcam", normalise(upsampled), unscaled=upsampled, raw=cams[:, 0],
                       seconds=time.perf_counter() - start, diagnostics=[{"layer_resolution": list(cams.shape[-2:])} for _ in range(len(images))])
