"""Explanation quality on data with expert masks or boxes (§3.5, Table 6): localisation (IoU, pointing game,
energy in the mask) and faithfulness (deletion, insertion) for each method, the fused map and two baselines
(a centred disc and the whole image), so every number has a no-skill reference beside it."""

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from medxai.explain.base import predict_probabilities
from medxai.explain.pipeline import METHOD_NAMES, run_methods
from medxai.metrics import faithfulness, localisation

TARGET_SOURCES = ("label", "prediction")


def model_predictor(model: nn.Module, precision: str = "auto") -> faithfulness.Predict:
    """Images [B,3,H,W] -> probabilities [B,C], without gradients."""
    return lambda images: predict_probabilities(model, images, precision)


def localised_items(dataset: Dataset, max_images: int) -> list[dict]:
    """The first `max_images` items that carry a mask (a mask of 255 everywhere means none)."""
    items = []
    for index in range(len(dataset)):
        item = dataset[index]
        if not bool((item["mask"] == 255).all()):
            items.append(item)
            if len(items) == max_images:
                break
    return items


def explained_classes(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, targets_from: str,
                      precision: str) -> torch.Tensor:
    """The class to explain per image: the label (multi-label: the most probable positive finding) or the
    model's top prediction."""
    if targets_from not in TARGET_SOURCES:
        raise ValueError(f"targets_from must be one of {TARGET_SOURCES}, got '{targets_from}'")
    if targets_from == "label" and labels.dim() == 1:
        return labels.long()
    scores = model_predictor(model, precision)(images)
    if targets_from == "label":
        scores = torch.where(labels > 0.5, scores, scores - 2)  # positives first, probability decides among them
    return scores.argmax(dim=1)


def score_maps(predict: faithfulness.Predict, images: torch.Tensor, maps: torch.Tensor, masks: torch.Tensor,
               targets: torch.Tensor, substitute: str, steps: int) -> dict[str, float]:
    """Mean of every localisation and faithfulness metric over the images."""
    scores: dict[str, float] = {}
    for name in localisation.HIGHER_IS_BETTER:
        metric = getattr(localisation, name)
        scores[name] = float(np.mean([metric(m.numpy(), k.numpy()) for m, k in zip(maps, masks)]))
    for name in faithfulness.HIGHER_IS_BETTER:
        metric = getattr(faithfulness, name)
        scores[name] = float(np.mean(metric(predict, images, maps, targets, substitute, steps)))
    return scores | {"images": len(images), "substitute": substitute}


def evaluate_explanations(model: nn.Module, dataset: Dataset, targets_from: str = "label", max_images: int = 32,
                          precision: str = "auto", substitute: str = "blur", steps: int = 32,
                          options: dict[str, dict] | None = None) -> dict:
    """{method: {iou, iou_at_threshold, pointing_game, energy_in_mask, deletion_auc, insertion_auc, images}}
    for gradcam, ig, lime, fusion, centred_disc and whole_image, over up to `max_images` masked images;
    {} when no image has a mask. `options[method]` go to that method (see `run_methods`)."""
    items = localised_items(dataset, max_images)
    if not items:
        return {}
    images = torch.stack([item["image"] for item in items])
    masks = torch.stack([item["mask"] for item in items])
    targets = explained_classes(model, images, torch.stack([item["target"] for item in items]), targets_from, precision)
    explanations = run_methods(model, images, targets, list(METHOD_NAMES), options, precision)
    maps = {name: explanation.maps for name, explanation in explanations.items()}
    shape = tuple(images.shape[-2:])
    for name, baseline in (("centred_disc", localisation.centred_disc), ("whole_image", localisation.whole_image)):
        maps[name] = torch.from_numpy(baseline(shape)).float().expand(len(images), *shape)
    predict = model_predictor(model, precision)
    return {name: score_maps(predict, images, method_maps, masks, targets, substitute, steps)
            for name, method_maps in maps.items()}
