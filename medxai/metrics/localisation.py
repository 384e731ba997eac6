"""How well a saliency map [H,W] matches an expert mask [H,W] (boxes already drawn as filled masks) (§3.5).

Ties are handled as a threshold would: every pixel equal to the cut-off value counts, so a constant map
(the whole-image baseline) selects the whole image rather than an arbitrary raster-order subset.
"""

import numpy as np

HIGHER_IS_BETTER = {"iou": True, "iou_at_threshold": True, "pointing_game": True, "energy_in_mask": True}


def _iou(selected: np.ndarray, mask: np.ndarray) -> float:
    union = np.logical_or(selected, mask).sum()
    return float(np.logical_and(selected, mask).sum() / union) if union else 0.0


def top_area(saliency: np.ndarray, area: int) -> np.ndarray:
    """The `area` highest pixels (and any tied with the last of them) as a boolean mask."""
    if area <= 0:
        return np.zeros(saliency.shape, bool)
    cutoff = np.partition(saliency.ravel(), -area)[-area]
    return saliency >= cutoff


def iou(saliency: np.ndarray, mask: np.ndarray) -> float:
    """IoU of the mask with the map's top pixels, as many as the mask has (no threshold to choose)."""
    mask = mask.astype(bool)
    return _iou(top_area(saliency, int(mask.sum())), mask)


def iou_at_threshold(saliency: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of the mask with the pixels where the (normalised, [0, 1]) map is >= `threshold`."""
    return _iou(saliency >= threshold, mask.astype(bool))


def pointing_game(saliency: np.ndarray, mask: np.ndarray) -> float:
    """1 when the map's maximum lies in the mask, else 0; with tied maxima, the share of them in the mask
    (the expected hit of picking one at random)."""
    peaks = saliency == saliency.max()
    return float(mask.astype(bool)[peaks].mean())


def energy_in_mask(saliency: np.ndarray, mask: np.ndarray) -> float:
    """Share of the map's positive mass inside the mask (energy-based pointing game)."""
    positive = np.clip(saliency, 0, None)
    total = positive.sum()
    return float(positive[mask.astype(bool)].sum() / total) if total > 0 else 0.0


def centred_disc(shape: tuple[int, int]) -> np.ndarray:
    """Baseline map falling off from the centre: its top pixels form a centred disc of the mask's area."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    distance = np.hypot(yy - (shape[0] - 1) / 2, xx - (shape[1] - 1) / 2)
    return 1 - distance / distance.max()


def whole_image(shape: tuple[int, int]) -> np.ndarray:
    """Baseline map that selects everything."""
    return np.ones(shape)
