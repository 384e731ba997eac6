"""Class-activation maps: Grad-CAM (Selvaraju et al. 2017; the seed paper's, §3.4), Grad-CAM++ (Chattopadhay
et al. 2018), HiResCAM (Draelos & Carin 2020) and LayerCAM (Jiang et al. 2021), from the `grad-cam` package
(pytorch-grad-cam), batched, on the model's device.

The library computes the activations, gradients and each variant's weighting; we take its signed map at the
layer's resolution (`get_cam_image`) rather than its rendered output, which is min-max scaled per image after
the ReLU: that scaling hides a dead map (nothing positive left) and the share of evidence the ReLU removed,
which `base.liveness` reports. The map is then upsampled bilinearly to the input and brought to the one scale.

Which variant, explained score and layer the product uses by default (`DEFAULT_VARIANT` of `DEFAULT_SCORE` at
`model.cam_layer`) was chosen by measurement (`medxai bench maps`, docs/evidence/maps.md).
"""

import time

import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from torch import nn
from torch.nn import functional as F

from medxai.explain.base import Explanation, explanation, model_device

VARIANTS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM, "layercam": LayerCAM}
DEFAULT_VARIANT = "gradcam"
SCORES = ("logit", "log_probability")
DEFAULT_SCORE = "log_probability"
"""The product's CAM explains the class's log-probability at the model's Grad-CAM layer: on our trained models
the paper's Grad-CAM of the logit was dead on most images (the class logits rise and fall together, and 98 % of
the class-weighted cells were negative), while the log-probability subtracts what raises every class and leaves
the evidence for this one. Grad-CAM++ and LayerCAM localised better on phantoms but barely changed when the top
layers were randomised (Spearman 0.65 to 0.95): they show activations, not the decision (docs/evidence/maps.md)."""


class _Score:
    """The explained quantity for one image's output row: the class logit (the paper's), or its log-probability
    (log-softmax; sigmoid for multi-label), which subtracts the evidence for the other classes."""

    def __init__(self, category: int, score: str, multi_label: bool):
        self.category, self.score, self.multi_label = category, score, multi_label

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if self.score == "logit":
            return output[self.category]
        if self.multi_label:
            return F.logsigmoid(output[self.category])
        return torch.log_softmax(output, dim=-1)[self.category]


def resolve_layer(model: nn.Module, layer: str | None) -> str:
    """The dotted module name: `layer` as given, 'paper' for the model's Grad-CAM layer (`model.gradcam_layer`,
    the attention output for ours), None for the product default (`model.cam_layer`)."""
    if layer == "paper":
        return model.gradcam_layer
    name = layer or getattr(model, "cam_layer", model.gradcam_layer)
    try:
        model.get_submodule(name)
    except AttributeError:
        raise ValueError(f"the model has no layer '{name}'") from None
    return name


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, variant: str = DEFAULT_VARIANT,
            layer: str | None = None, score: str = DEFAULT_SCORE, precision: str = "fp32") -> Explanation:
    """Maps [N,H,W] of `variant` on `layer` (see `resolve_layer`) for class `targets` [N]; images [N,3,H,W] raw
    pixels: the ReLU at the layer's resolution, then bilinear upsampling, as the library and the papers do.
    Raw output: the signed layer-resolution maps [N,h,w], whose liveness the diagnostics report. Runs in fp32 whatever `precision` says
    (a CAM is one forward and backward pass; bf16 rounding of its gradients would make the map depend on the
    CPU). Raises ValueError for an unknown variant, score or layer."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown CAM variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    if score not in SCORES:
        raise ValueError(f"unknown explained score '{score}'; choose one of {', '.join(SCORES)}")
    del precision
    start = time.perf_counter()
    name = resolve_layer(model, layer)
    module = model.get_submodule(name)
    was_training = model.training
    cam = VARIANTS[variant](model=model, target_layers=[module])
    try:
        multi_label = bool(getattr(model, "multi_label", False))
        chosen = [_Score(int(t), score, multi_label) for t in targets.tolist()]
        with torch.enable_grad():
            cam(input_tensor=images.to(model_device(model)).float().contiguous(), targets=chosen)
        activations = cam.activations_and_grads.activations[0].float().numpy()
        gradients = cam.activations_and_grads.gradients[0].float().numpy()
        signed = torch.from_numpy(cam.get_cam_image(images, module, chosen, activations, gradients, False)).float()
    finally:
        cam.activations_and_grads.release()
        model.train(was_training)
    upsampled = F.interpolate(signed.clamp_min(0)[:, None], size=tuple(images.shape[-2:]), mode="bilinear")[:, 0]
    diagnostics = [{"variant": variant, "layer": name, "layer_resolution": list(signed.shape[-2:]), "score": score}
                   for _ in range(len(images))]
    return explanation(variant, upsampled, signed, diagnostics, start, signed=signed)
