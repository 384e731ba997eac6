"""Run several methods on the same images once each: fusion reuses the Grad-CAM, IG and LIME maps it needs."""

import torch
from torch import nn

from medxai.explain import gradcam, integrated_gradients, lime
from medxai.explain.base import Explanation
from medxai.explain.fusion import fuse_explanations

COMPONENTS = {"gradcam": gradcam.explain, "ig": integrated_gradients.explain, "lime": lime.explain}
METHOD_NAMES = (*COMPONENTS, "fusion")


def parse_methods(text: str) -> list[str]:
    """'gradcam,ig' -> ['gradcam', 'ig'], rejecting unknown names."""
    methods = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHOD_NAMES]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHOD_NAMES)}")
    return methods


def run_methods(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, methods: list[str],
                options: dict[str, dict] | None = None, bf16: bool = True) -> dict[str, Explanation]:
    """Explanations by method name; `options[method]` are passed to that method (e.g. {'lime': {'seed': 1}})."""
    options = options or {}
    needed = list(COMPONENTS) if "fusion" in methods else [name for name in methods if name in COMPONENTS]
    results = {name: COMPONENTS[name](model, images, targets, bf16=bf16, **options.get(name, {}))
               for name in needed}
    if "fusion" in methods:
        results["fusion"] = fuse_explanations([results[name] for name in COMPONENTS], options.get("fusion"))
    return results
