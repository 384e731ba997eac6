"""Where a map's mass lies: in the expert region, at the image's edges, elsewhere on the body part, or on the
background.

A map can miss the lesion in several ways that mean different things: mass elsewhere in the brain (the model
may use the anatomy around the tumour, or the map may be diffuse), mass outside the head (the background carries
nothing about a tumour: a shortcut, or a map artefact), mass in a band along the image's edges (acquisition
marks, padding, the field of view). The zones are disjoint, assigned in that priority: the region first, then
the edge band, then the body part (the foreground), then the background. Each zone's share of the map's energy
is read against its share of the image's area, which is what a uniform (no-skill) map puts there; their ratio
is the zone's lift (the energy-based pointing game of Wang et al., Score-CAM, CVPRW 2020, per zone).

The foreground is the largest connected component above Otsu's threshold of the grey image, holes filled
(scikit-image, SciPy): the usual skull-stripping first step for MRI, adequate for telling the head from the air
around it, not a brain mask.
"""

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import label

ZONES = ("region", "edge", "foreground", "background")
"""Disjoint, in priority order: the expert region; a band along the image's edges (outside the region); the
rest of the body part (foreground); the rest (background)."""
EDGE_SHARE = 0.08
"""The edge band's width as a share of the image's side (13 px at 160 px)."""


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """bool [H,W]: the largest connected component of the grey image (`image` [H,W] or [3,H,W] in [0, 1])
    above Otsu's threshold, holes filled; all False for a flat image."""
    grey = image.mean(axis=0) if image.ndim == 3 else image
    if float(grey.max() - grey.min()) < 1e-6:
        return np.zeros(grey.shape, dtype=bool)
    components = label(grey > threshold_otsu(grey))
    if components.max() == 0:
        return np.zeros(grey.shape, dtype=bool)
    largest = np.argmax(np.bincount(components.ravel())[1:]) + 1
    return ndimage.binary_fill_holes(components == largest)


def zone_masks(image: np.ndarray, region: np.ndarray, edge_share: float = EDGE_SHARE) -> dict[str, np.ndarray]:
    """{zone: bool [H,W]} for `ZONES`, disjoint and covering the image: `region` [H,W] (nonzero = expert
    region), the band within `edge_share` x side of the border, the foreground (`foreground_mask` of `image`),
    the background."""
    region = np.asarray(region) > 0
    height, width = region.shape
    band = max(1, round(edge_share * max(height, width)))
    edge = np.ones((height, width), dtype=bool)
    edge[band:height - band, band:width - band] = False
    edge &= ~region
    foreground = foreground_mask(image) & ~region & ~edge
    return {"region": region, "edge": edge, "foreground": foreground,
            "background": ~(region | edge | foreground)}


def energy_by_zone(saliency: np.ndarray, zones: dict[str, np.ndarray]) -> dict[str, float]:
    """{zone: share of the map's energy (its sum; `saliency` [H,W] >= 0) in the zone}; every share is 0 for an
    all-zero map."""
    total = float(np.clip(saliency, 0, None).sum())
    return {name: float(np.clip(saliency, 0, None)[mask].sum()) / total if total > 0 else 0.0
            for name, mask in zones.items()}


def area_by_zone(zones: dict[str, np.ndarray]) -> dict[str, float]:
    """{zone: share of the image's area}: what a uniform, no-skill map puts in each zone."""
    return {name: float(mask.mean()) for name, mask in zones.items()}
