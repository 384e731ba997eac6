"""Where a map points, as an image region a viewer draws: the outline of the half-maximum region around the map's
peak (the connected pixels at or above half the peak, the region `iou_at_threshold` scores) as a closed polygon in
the source's pixel coordinates, or the peak itself as a point when that region is too small to outline."""

import numpy as np
from skimage import measure

HALF_MAXIMUM = 0.5
"""The share of the map's peak that bounds the region (half maximum, as a full width at half maximum does)."""


def peak(saliency: np.ndarray) -> np.ndarray:
    """The map's maximum as (column, row) in pixel coordinates, pixel centres at .5 (PS3.3 C.18.6.1.2 SCOORD)."""
    row, column = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return np.array([[column + 0.5, row + 0.5]], dtype=np.float32)


def half_maximum_outline(saliency: np.ndarray, tolerance: float = 1.0) -> np.ndarray | None:
    """The outline of the connected region at or above half the peak that contains the peak, as a closed polygon of
    (column, row) points (first point repeated last: a closed SCOORD POLYLINE, PS3.3 C.18.6.1.1), simplified to within `tolerance`
    pixels (Douglas-Peucker, scikit-image). None for a flat map or a region of fewer than 3 distinct vertices.

    `saliency`: float HxW at the source's grid. The contour is scikit-image's marching squares on the region's mask,
    padded so that a region touching the border still closes."""
    high, low = float(saliency.max()), float(saliency.min())
    if not high > low:
        return None
    labels = measure.label(saliency >= low + HALF_MAXIMUM * (high - low), connectivity=2)
    region = labels == labels[np.unravel_index(int(np.argmax(saliency)), saliency.shape)]
    contours = measure.find_contours(np.pad(region.astype(np.float32), 1), 0.5)
    if not contours:
        return None
    outline = measure.approximate_polygon(max(contours, key=len) - 1.0, tolerance=tolerance)  # back from the pad
    outline = np.clip(outline, 0.0, np.array(saliency.shape, dtype=float) - 1.0)
    points = np.unique(outline.round(3), axis=0)
    if len(points) < 3:
        return None
    polygon = outline[:, ::-1] + 0.5  # (row, column) to (column, row), pixel centres
    if not np.array_equal(polygon[0], polygon[-1]):
        polygon = np.vstack([polygon, polygon[:1]])
    return polygon.astype(np.float32)
