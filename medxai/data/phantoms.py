"""Synthetic labelled folders where the class is decided only by what lies inside the lesion.

A faithful explanation of a model trained on them must point at the lesion (the mask is known exactly).
With `spurious_marker`, training images of the marked class carry a bright corner square (like a ruler or
text label): a model may learn that shortcut, and its explanations should show it doing so.
The last `test_fraction` of images are the `test` split, where the marker is placed at random.
With `benign_sign` (x-ray only), benign nodules carry two bright calcifications, as benign nodules show: a sign
of their own, for studying what a CAM of the class without one can show (docs/evidence/maps.md: the
model then learns the calcification and reads malignancy as its absence).
"""

import csv
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from medxai.errors import UserError

KINDS = {
    "xray": ["benign_nodule", "malignant_nodule"],
    "dermoscopy": ["nevus", "melanoma"],
}
MARKED_CLASS = 1


def _lesion_mask(rng: np.random.Generator, size: int, irregular: bool) -> np.ndarray:
    """An ellipse (xray) or a blob with a wobbly outline (dermoscopy), well inside the image."""
    radius = rng.uniform(0.12, 0.2) * size
    cy, cx = rng.uniform(radius + 0.08 * size, size - radius - 0.08 * size, 2)
    yy, xx = np.mgrid[:size, :size]
    angle = np.arctan2(yy - cy, xx - cx)
    aspect = rng.uniform(0.75, 1.0)
    outline = radius * (1 + (0.15 * np.sin(3 * angle + rng.uniform(0, 6)) if irregular else 0))
    distance = np.hypot((yy - cy) / aspect, xx - cx)
    return distance <= outline


def _blobs(rng: np.random.Generator, mask: np.ndarray, count: int, radius: float) -> np.ndarray:
    """`count` small discs centred at random points of `mask`."""
    ys, xs = np.nonzero(mask)
    picks = rng.choice(len(ys), count, replace=False)
    yy, xx = np.mgrid[:mask.shape[0], :mask.shape[1]]
    spots = np.zeros(mask.shape, bool)
    for y, x in zip(ys[picks], xs[picks]):
        spots |= np.hypot(yy - y, xx - x) <= radius
    return spots & mask


def _xray(rng: np.random.Generator, size: int, label: int, benign_sign: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size] / size
    body = 0.55 + 0.1 * np.cos(np.pi * (xx - 0.5))
    lungs = (((xx - 0.3) / 0.17) ** 2 + ((yy - 0.5) / 0.33) ** 2 <= 1) | (((xx - 0.7) / 0.17) ** 2 + ((yy - 0.5) / 0.33) ** 2 <= 1)
    image = np.where(lungs, 0.25, body) + gaussian_filter(rng.normal(0, 0.08, (size, size)), size / 40)
    mask = _lesion_mask(rng, size, irregular=False)
    image = np.where(mask, 0.7, image)
    if label == 1:
        image = np.where(_blobs(rng, mask, 3, size * 0.05), 0.3, image)
    elif benign_sign:
        image = np.where(_blobs(rng, mask, 2, size * 0.04), 0.95, image)
    image = gaussian_filter(image, 1.0) + rng.normal(0, 0.03, (size, size))
    return np.clip(image, 0, 1)[:, :, None].repeat(3, axis=2), mask


def _dermoscopy(rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, np.ndarray]:
    skin = np.array([0.88, 0.7, 0.6]) + rng.normal(0, 0.03, 3)
    image = np.ones((size, size, 3)) * skin + gaussian_filter(rng.normal(0, 0.05, (size, size)), 3)[:, :, None]
    mask = _lesion_mask(rng, size, irregular=True)
    image[mask] = [0.45, 0.3, 0.2]
    if label == 1:
        image[_blobs(rng, mask, 3, size * 0.05)] = [0.35, 0.4, 0.55]
        image[_blobs(rng, mask, 6, size * 0.018)] = [0.12, 0.08, 0.06]
    image = gaussian_filter(image, (1.0, 1.0, 0)) + rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0, 1), mask


def make_phantoms(out: str | Path, kind: str = "xray", n: int = 300, seed: int = 0, size: int = 256,
                  spurious_marker: bool = False, test_fraction: float = 0.2, benign_sign: bool = False) -> Path:
    """Write a labelled folder (labels.csv with boxes and split, images/, masks/) and return its path.

    Raises UserError for an unknown kind, n < 4, size < 32, or `benign_sign` with a kind other than xray."""
    if kind not in KINDS:
        raise UserError(f"unknown phantom kind '{kind}'; choose one of: {', '.join(KINDS)}")
    if benign_sign and kind != "xray":
        raise UserError("--benign-sign draws calcifications in x-ray nodules; use it with --kind xray")
    if n < 4 or size < 32:
        raise UserError("phantoms need n >= 4 and size >= 32")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    draw = partial(_xray, benign_sign=benign_sign) if kind == "xray" else _dermoscopy
    labels = rng.permutation(np.arange(n) % len(KINDS[kind]))
    first_test = int(round(n * (1 - test_fraction)))
    rows = []
    for index, label in enumerate(labels):
        image, mask = draw(rng, size, int(label))
        split = "train" if index < first_test else "test"
        marked = label == MARKED_CLASS if split == "train" else rng.random() < 0.5
        if spurious_marker and marked:
            side = max(size // 16, 3)
            image[2:2 + side, 2:2 + side] = 1.0
        image_id = f"{kind}{index:05d}"
        Image.fromarray((image * 255).round().astype(np.uint8)).save(out / "images" / f"{image_id}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / "masks" / f"{image_id}.png")
        ys, xs = np.nonzero(mask)
        rows.append([image_id, KINDS[kind][label], xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, split,
                     f"p{index}"])
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "diagnosis", "x0", "y0", "x1", "y1", "split", "patient_id"])
        writer.writerows(rows)
    return out
