"""Explanation scores per image for one trained model: each method, the paper's fused map, the fusion of each
pair of methods (Table 8), LIME variants (Table 6), the product's default CAM and fused map, and the no-skill
baselines, with the deletion and insertion curves. Per image rather than means, so that paired tests, plots and
the gallery come from the same numbers."""

from itertools import combinations

import numpy as np
import torch
from torch import nn

from medxai.data.dataset import ImageDataset
from medxai.explain import lime
from medxai.explain.evaluation import localised_items, model_predictor
from medxai.explain.fusion import PAPER_WEIGHTS, fuse
from medxai.explain.pipeline import COMPONENTS, fused_components, run_methods
from medxai.metrics import faithfulness, localisation

PAPER_COMPONENTS = fused_components("paper")
PAPER_METHODS = (*PAPER_COMPONENTS, "fusion")
"""The seed paper's tables are recomputed with its own methods: Grad-CAM at the attention output, raw IG, LIME,
and the 0.4/0.4/0.2 fusion (rule `paper`)."""

PRODUCT_ROWS = {"cam": "cam", "fusion_default": "fusion"}
"""Rows of what the product serves by default (its CAM; its fused map: rule `fusion.DEFAULT_RULE` over that CAM,
smoothed IG and LIME), beside the paper's, so that a report says how far each moves the paper's figures."""

BASELINES = {"centred_disc": localisation.centred_disc, "whole_image": localisation.whole_image}
PAIRS = [f"{a}+{b}" for a, b in combinations(PAPER_COMPONENTS, 2)]
LOCALISATION = list(localisation.HIGHER_IS_BETTER)
METRICS = [*LOCALISATION, "deletion_auc", "insertion_auc"]


def variant_name(variant: dict) -> str:
    """'lime[segmentation=slic,n_segments=200]' for a Table 6 variant row: a method with other options."""
    options = {key: value for key, value in variant.items() if key != "method"}
    return variant["method"] + "[" + ",".join(f"{key}={value}" for key, value in options.items()) + "]"


def method_options(settings) -> dict[str, dict]:
    return {"ig": {"steps": settings.ig_steps, "max_steps": settings.ig_max_steps, "smoothing": 0.0},
            "lime": {"max_samples": settings.lime_max_samples, "segmentation": settings.lime_segmentation}}


def score_per_image(model: nn.Module, images: torch.Tensor, maps: torch.Tensor, masks: torch.Tensor,
                    targets: torch.Tensor, steps: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every localisation and faithfulness metric per image, and the deletion and insertion curves."""
    scores = {name: np.array([getattr(localisation, name)(m.numpy(), k.numpy()) for m, k in zip(maps, masks)])
              for name in LOCALISATION}
    predict = model_predictor(model)
    curves = {mode: faithfulness.curves(predict, images, maps, targets, mode, "blur", steps)
              for mode in ("deletion", "insertion")}
    for mode, curve in curves.items():
        scores[f"{mode}_auc"] = faithfulness.area_under(curve)
    return scores, curves


def explanation_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, settings
                     ) -> tuple[dict[str, torch.Tensor], dict[str, list]]:
    """Maps by row name (methods, pairs, LIME variants, baselines) and per-image diagnostics by row name."""
    options = method_options(settings)
    options["lime"]["predict"] = lime.torch_predictor(model)  # the model itself, in this process's threads
    explanations = run_methods(model, images, targets, list(PAPER_METHODS), options, rule="paper")
    maps = {name: explanation.maps for name, explanation in explanations.items()}
    diagnostics = {name: explanations[name].diagnostics for name in PAPER_COMPONENTS}
    for pair in PAIRS:
        parts = pair.split("+")
        maps[pair] = fuse({name: maps[name] for name in parts}, {name: PAPER_WEIGHTS[name] for name in parts})
    for variant in settings.variants:
        method = variant["method"]
        chosen = {**options.get(method, {}), **{k: v for k, v in variant.items() if k != "method"}}
        explanation = COMPONENTS[method](model, images, targets, **chosen)
        maps[variant_name(variant)] = explanation.maps
        diagnostics[variant_name(variant)] = explanation.diagnostics
    served = {"ig": {"steps": settings.ig_steps, "max_steps": settings.ig_max_steps}}
    defaults = run_methods(model, images, targets, ["cam", "fusion"], served,
                           computed={"lime": explanations["lime"]})  # same options as the paper's row
    for row, method in PRODUCT_ROWS.items():
        maps[row], diagnostics[row] = defaults[method].maps, defaults[method].diagnostics
    shape = tuple(images.shape[-2:])
    for name, baseline in BASELINES.items():
        maps[name] = torch.from_numpy(baseline(shape)).float().expand(len(images), *shape)
    return maps, diagnostics


def score_model(model: nn.Module, dataset: ImageDataset, settings, extra_regions: dict | None = None) -> dict:
    """{"scores": {row: {metric: [N]}}, "curves": {row: {mode: [N, steps+1]}}, "diagnostics", and the images,
    masks and main maps for the gallery}; {} when no image in `dataset` has a mask. `extra_regions` maps a
    name to a function of the images giving masks [N,H,W] whose `energy_in_<name>` is added per row."""
    items = localised_items(dataset, settings.explained_images)
    if not items:
        return {}
    model.eval().to(memory_format=torch.channels_last)  # once: bf16 methods would switch layouts on every call
    images = torch.stack([item["image"] for item in items])
    masks = torch.stack([item["mask"] for item in items])
    targets = torch.stack([item["target"] for item in items]).long()  # single-label: explain the true class
    maps, diagnostics = explanation_maps(model, images, targets, settings)
    scores, curves = {}, {}
    for name, row_maps in maps.items():
        scores[name], curves[name] = score_per_image(model, images, row_maps, masks, targets, settings.deletion_steps)
        for region, region_masks in (extra_regions or {}).items():
            scores[name][f"energy_in_{region}"] = np.array([
                localisation.energy_in_mask(m.numpy(), k) for m, k in zip(row_maps, region_masks(images))])
    return {"scores": scores, "curves": curves, "diagnostics": diagnostics,
            "indices": [int(item["index"]) for item in items], "targets": targets.numpy(),
            "images": images.numpy(), "masks": masks.numpy(),
            "maps": {name: maps[name].numpy() for name in PAPER_METHODS}}
