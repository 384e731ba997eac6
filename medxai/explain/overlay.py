"""Colour overlays of a map on its image, for people to look at (PNG)."""

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image


def overlay(pixels: np.ndarray, saliency: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """uint8 HxWx3: the image (HxWx3 in [0, 1]) blended with the map ([0, 1]) in the 'jet' colour map,
    more opaque where the map is higher."""
    colours = colormaps["jet"](np.clip(saliency, 0, 1))[..., :3]
    weight = opacity * np.clip(saliency, 0, 1)[..., None]
    return (255 * ((1 - weight) * pixels + weight * colours)).round().astype(np.uint8)


def save_overlay(path: str | Path, pixels: np.ndarray, saliency: np.ndarray) -> Path:
    """The overlay as PNG, on `pixels` (HxWx3 in [0, 1]) at their own size: a map of another size (the model's
    SxS input, which the image was resized to without keeping its aspect) is resized to HxW bilinearly, so a
    clinician sees the image as decoded, not squashed to a square."""
    height, width = pixels.shape[:2]
    if saliency.shape != (height, width):
        saliency = Image.fromarray(np.asarray(saliency, dtype=np.float32)).resize((width, height), Image.BILINEAR)
    Image.fromarray(overlay(pixels, np.asarray(saliency))).save(path)
    return Path(path)
