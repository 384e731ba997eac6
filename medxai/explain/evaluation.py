"""Explanation quality on data with expert masks or boxes (§3.5, Table 6): localisation (IoU, pointing game,
energy in the mask) and faithfulness (deletion, insertion) for each method, the fused map and two baselines
(a centred disc and the whole image), so every number has a no-skill reference beside it."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from medxai.data.dataset import ImageDataset
from medxai.data.sampling import DEFAULT_SEED, stratified_records
from medxai.explain.base import predict_probabilities
from medxai.explain.pipeline import DEFAULT_METHODS, run_methods
from medxai.metrics import faithfulness, localisation
from medxai.metrics.intervals import INTERVAL_METRICS, bootstrap_interval

TARGET_SOURCES = ("label", "prediction")
SCORED_METHODS = ("gradcam", *DEFAULT_METHODS)
"""The maps we serve, and the seed paper's Grad-CAM beside them for reference."""


def model_predictor(model: nn.Module, precision: str = "auto") -> faithfulness.Predict:
    """Images [B,3,H,W] -> probabilities [B,C], without gradients."""
    return lambda images: predict_probabilities(model, images, precision)


def localised_items(dataset: ImageDataset, max_images: int, seed: int = DEFAULT_SEED) -> list[dict]:
    """Up to `max_images` items of `dataset` whose record has a mask or box, drawn across classes with `seed`
    (`medxai.data.sampling.stratified_records`: the first N of a folder can all be one class), in the data's
    order."""
    chosen = stratified_records(dataset.spec, max_images, dataset.spec.localised(), seed)
    items = [dataset[index] for index in chosen]
    return [item for item in items if not bool((item["mask"] == 255).all())]  # 255 everywhere: no region


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


def per_image_metrics(predict: faithfulness.Predict, images: torch.Tensor, maps: torch.Tensor, masks: torch.Tensor,
                      targets: torch.Tensor, substitute: str, steps: int,
                      metrics: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """{metric: [N]} per image, for `metrics` (default: every localisation and faithfulness metric), of maps
    [N,H,W] against masks [N,H,W] (nonzero = lesion), faithfulness through `predict` for classes `targets` [N]
    with `substitute` and `steps` curve steps. Raises ValueError for an unknown metric name."""
    metrics = metrics or (*localisation.HIGHER_IS_BETTER, *faithfulness.HIGHER_IS_BETTER)
    unknown = set(metrics) - set(localisation.HIGHER_IS_BETTER) - set(faithfulness.HIGHER_IS_BETTER)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}")
    scores: dict[str, np.ndarray] = {}
    for name in metrics:
        if name in localisation.HIGHER_IS_BETTER:
            metric = getattr(localisation, name)
            scores[name] = np.array([metric(m.numpy(), k.numpy()) for m, k in zip(maps, masks)])
        else:
            scores[name] = np.asarray(getattr(faithfulness, name)(predict, images, maps, targets, substitute, steps))
    return scores


def class_means(scores: dict[str, np.ndarray], targets: torch.Tensor) -> dict:
    """{metric: mean over the images, "images": N, "interval": {metric: [low, high]}, "by_class": {class index:
    {metric: mean, "images": n, "interval": {...}}}} from per-image scores ({metric: [N]}) and the explained
    classes [N]; the intervals are 95 % bootstrap intervals of the means (`medxai.metrics.intervals`) of the
    metrics in `INTERVAL_METRICS` that were scored (absent for a class of one image). The mean over classes can
    hide that a map finds one class's sign and has nothing to point at for another (a benign phantom is a
    malignant one without its dark spots: there is no "benign" sign to find)."""
    def summary(chosen: np.ndarray) -> dict:
        intervals = {name: bootstrap_interval(values[chosen]) for name, values in scores.items()
                     if name in INTERVAL_METRICS}
        return ({name: float(np.mean(values[chosen])) for name, values in scores.items()}
                | {"images": int(chosen.sum()),
                   "interval": {name: list(bounds) for name, bounds in intervals.items() if bounds is not None}})
    classes = targets.numpy()
    return summary(np.ones(len(classes), dtype=bool)) | {"by_class": {int(c): summary(classes == c)
                                                                      for c in np.unique(classes)}}


def score_maps(predict: faithfulness.Predict, images: torch.Tensor, maps: torch.Tensor, masks: torch.Tensor,
               targets: torch.Tensor, substitute: str, steps: int) -> dict:
    """Mean of every localisation and faithfulness metric over the images (`per_image_metrics`), with the means
    per explained class and their intervals (`class_means`)."""
    return class_means(per_image_metrics(predict, images, maps, masks, targets, substitute, steps),
                       targets) | {"substitute": substitute}


def evaluate_explanations(model: nn.Module, dataset: ImageDataset, targets_from: str = "label", max_images: int = 32,
                          precision: str = "auto", substitute: str = "blur", steps: int = 32,
                          options: dict[str, dict] | None = None, methods: tuple[str, ...] = SCORED_METHODS,
                          log: Callable[[str], None] = lambda _: None) -> dict:
    """{method: {dead_share, iou, iou_at_threshold, pointing_game, energy_in_mask, deletion_auc, insertion_auc,
    images}} for `methods` (default: the served maps and the paper's Grad-CAM), centred_disc and whole_image,
    over up to `max_images` masked images; {} when no image has a mask or `max_images` is 0. `options[method]`
    go to that method (see `run_methods`); `log` hears each stage."""
    items = localised_items(dataset, max_images) if max_images > 0 else []
    if not items:
        return {}
    log(f"explaining {len(items)} images with masks: {', '.join(methods)}")
    images = torch.stack([item["image"] for item in items])
    masks = torch.stack([item["mask"] for item in items])
    targets = explained_classes(model, images, torch.stack([item["target"] for item in items]), targets_from, precision)
    explanations = run_methods(model, images, targets, list(methods), options, precision)
    maps = {name: explanation.maps for name, explanation in explanations.items() if name in methods}
    dead = {name: float(np.mean(explanations[name].dead)) for name in maps}
    shape = tuple(images.shape[-2:])
    for name, baseline in (("centred_disc", localisation.centred_disc), ("whole_image", localisation.whole_image)):
        maps[name] = torch.from_numpy(baseline(shape)).float().expand(len(images), *shape)
    predict = model_predictor(model, precision)
    scores = {}
    for name, method_maps in maps.items():
        log(f"scoring {name}")
        scores[name] = {"dead_share": dead.get(name, 0.0),
                        **score_maps(predict, images, method_maps, masks, targets, substitute, steps)}
    return scores
