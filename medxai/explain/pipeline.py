"""Run several methods on the same images once each: the fused map reuses the component maps it needs.

Method names: `cam` (the product's class-activation map: `cam.DEFAULT_VARIANT` at `model.cam_layer`), the
class-activation family by name (`gradcam` is the seed paper's, at the attention output; `gradcam++`,
`hirescam`, `layercam` at the product's CAM layer), `ig`, `lime`, and `fusion` (rule `fusion.DEFAULT_RULE`
over `cam` and `ig`; the `paper` rule over the paper's `gradcam`, `ig`, `lime`; see `fused_components`).
"""

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from medxai.explain import cam, gradcam, integrated_gradients, lime
from medxai.explain.base import Explanation, predict_probabilities
from medxai.explain.fusion import DEFAULT_RULE, RULE_WEIGHTS, fuse_explanations

COMPONENTS: dict[str, Callable[..., Explanation]] = {
    "cam": cam.explain,
    "gradcam": gradcam.explain,
    **{name: partial(cam.explain, variant=name) for name in ("gradcam++", "hirescam", "layercam")},
    "ig": integrated_gradients.explain,
    "lime": lime.explain,
}
METHOD_NAMES = (*COMPONENTS, "fusion")
DEFAULT_METHODS = ("cam", "ig", "lime", "fusion")
"""What `medxai explain`, the service and the demo return unless asked otherwise, and what the release gate
checks: the maps we serve."""
FULL_PRECISION = {"ig", *cam.VARIANTS, "cam"}
"""Methods that stay in fp32 when bf16 is asked for: bf16 rounding of IG's small per-pixel gradients dropped its
map's Spearman correlation with the fp32 50-step reference from 0.99 to 0.85, and saved little on this CPU
(8 Gauss-Legendre steps: 1.2 s in fp32; 16 steps: 1.1 s in bf16, 2.7 s in fp32). A CAM is one pass: fp32
costs little and keeps its map from depending on the CPU."""


def fused_components(rule: str = DEFAULT_RULE) -> tuple[str, ...]:
    """The component maps a fusion rule combines: the paper's Grad-CAM, IG and LIME for `paper`; the product's CAM
    in Grad-CAM's place otherwise, and only the maps with a positive base weight (`fusion.RULE_WEIGHTS`: the
    `faithfulness` rule fuses the CAM and IG)."""
    names = ("gradcam", "ig", "lime") if rule == "paper" else ("cam", "ig", "lime")
    return tuple(name for name in names if RULE_WEIGHTS[rule][name] > 0)


def parse_methods(text: str) -> list[str]:
    """'cam,ig' -> ['cam', 'ig'], rejecting unknown names."""
    methods = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHOD_NAMES]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHOD_NAMES)}")
    return methods


def run_methods(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, methods: list[str] | tuple[str, ...],
                options: dict[str, dict] | None = None, precision: str = "auto", rule: str = DEFAULT_RULE,
                computed: dict[str, Explanation] | None = None) -> dict[str, Explanation]:
    """Explanations by method name, the fused map's components included; `options[method]` are passed to that
    method (e.g. {'lime': {'seed': 1}}) and override the `precision` chosen here (FULL_PRECISION methods always
    run in fp32); `options['fusion']` are base weights by component. `computed`: explanations of these images
    and targets already made with the same options, reused rather than computed again."""
    options, computed = options or {}, computed or {}
    needed = list(dict.fromkeys([*(fused_components(rule) if "fusion" in methods else ()),
                                 *(name for name in methods if name in COMPONENTS)]))
    results = {name: computed[name] if name in computed else COMPONENTS[name](
                   model, images, targets,
                   **({"precision": "fp32" if name in FULL_PRECISION else precision} | options.get(name, {})))
               for name in needed}
    if "cam" in results:
        results["cam"].method = "cam"
    if "fusion" in methods:
        results["fusion"] = fuse_explanations([results[name] for name in fused_components(rule)], rule,
                                              options.get("fusion"), images, targets,
                                              lambda batch: predict_probabilities(model, batch, precision))
    return results


def explain_fused(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, rule: str = DEFAULT_RULE,
                  precision: str = "auto") -> Explanation:
    """The fused map at the defaults (its components computed on the way)."""
    return run_methods(model, images, targets, ["fusion"], precision=precision, rule=rule)["fusion"]
