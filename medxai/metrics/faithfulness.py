"""Deletion and insertion (Petsiuk et al. 2018): the target-class probability as the map's top pixels are
removed from the image (deletion: a faithful map makes it fall fast, lower area is better) or added to a
substitute (insertion: it rises fast, higher area is better). The substitute is a Gaussian blur of the image
(sigma = side / 20) by default, or black ('zero'). All steps of one image go through the model as batches.
"""

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import trapezoid
from torchvision.transforms.functional import gaussian_blur

HIGHER_IS_BETTER = {"deletion_auc": False, "insertion_auc": True}
SUBSTITUTES = ("blur", "zero")

Predict = Callable[[torch.Tensor], torch.Tensor]


def blurred(images: torch.Tensor, sigma_share: float = 1 / 20) -> torch.Tensor:
    """Gaussian blur of images [N,3,H,W] with sigma = side x `sigma_share` (default side / 20): keeps the
    colours, removes the detail."""
    sigma = max(images.shape[-2:]) * sigma_share
    kernel = min(2 * round(3 * sigma) + 1, 2 * (min(images.shape[-2:]) // 2) - 1)
    return gaussian_blur(images, [kernel, kernel], [sigma, sigma])


def substitute_images(images: torch.Tensor, substitute: str) -> torch.Tensor:
    if substitute == "blur":
        return blurred(images)
    if substitute == "zero":
        return torch.zeros_like(images)
    raise ValueError(f"unknown substitute '{substitute}'; choose one of {SUBSTITUTES}")


def curves(predict: Predict, images: torch.Tensor, maps: torch.Tensor, targets: torch.Tensor, mode: str,
           substitute: str = "blur", steps: int = 32, batch_size: int = 64, inner: bool = False) -> np.ndarray:
    """Target probability [N, steps + 1] after changing the top 0, 1/steps, ..., all pixels ([N, steps - 1]
    without the two ends when `inner`: the image and its substitute, the same for every map).
    `predict` takes images [B,3,H,W] and returns probabilities [B,C]."""
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be deletion or insertion, got '{mode}'")
    pixels = maps[0].numel()
    counts = torch.round(torch.linspace(0, pixels, steps + 1)).long()
    counts = counts[1:-1] if inner else counts
    others = substitute_images(images, substitute)
    out = []
    for image, other, saliency, target in zip(images, others, maps, targets.tolist()):
        order = torch.argsort(-saliency.flatten().float(), stable=True)
        rank = torch.empty(pixels, dtype=torch.long)
        rank[order] = torch.arange(pixels)
        changed = (rank.view(1, *saliency.shape) < counts.view(-1, 1, 1))[:, None]
        start, end = (image, other) if mode == "deletion" else (other, image)
        sequence = torch.where(changed, end, start)
        out.append(torch.cat([predict(chunk)[:, target] for chunk in sequence.split(batch_size)]).float().numpy())
    return np.stack(out)


def area_under(curve: np.ndarray) -> np.ndarray:
    """Trapezoid area over the fraction of pixels changed, in [0, 1] (last axis)."""
    return trapezoid(curve, dx=1 / (curve.shape[-1] - 1), axis=-1)


def deletion_auc(predict: Predict, images: torch.Tensor, maps: torch.Tensor, targets: torch.Tensor,
                 substitute: str = "blur", steps: int = 32) -> np.ndarray:
    """Area under the deletion curve per image (lower is better)."""
    return area_under(curves(predict, images, maps, targets, "deletion", substitute, steps))


def insertion_auc(predict: Predict, images: torch.Tensor, maps: torch.Tensor, targets: torch.Tensor,
                  substitute: str = "blur", steps: int = 32) -> np.ndarray:
    """Area under the insertion curve per image (higher is better)."""
    return area_under(curves(predict, images, maps, targets, "insertion", substitute, steps))


def insertion_deletion_gap(predict: Predict, images: torch.Tensor, maps: torch.Tensor, targets: torch.Tensor,
                           substitute: str = "blur", steps: int = 32) -> np.ndarray:
    """Insertion AUC minus deletion AUC per image [N] (higher is better), in 2 (steps - 1) passes per image
    instead of 2 (steps + 1): both curves start and end at the image and its substitute, whose trapezoid
    terms (half a step each) cancel in the difference, so only the inner points are computed."""
    inserted = curves(predict, images, maps, targets, "insertion", substitute, steps, inner=True)
    deleted = curves(predict, images, maps, targets, "deletion", substitute, steps, inner=True)
    return (inserted - deleted).sum(axis=-1) / steps
