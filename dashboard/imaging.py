"""Pictures for the review page, drawn here in Python (no JavaScript widget, nothing from a CDN): the image
(decoded as the model receives it; a monochrome DICOM optionally through a window preset, the same decoding
with another VOI window, so MONOCHROME1 is drawn positive as the model sees it), alpha-blended heatmaps, the
expert outline, and the numbers a map earns against it (IoU, pointing game) and its deletion/insertion curves
through the service.

Only pixels are read from DICOM files: no tag is shown or stored. A case is named by the SHA-256 of its
decoded pixels, never by a file name.
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image
from skimage.segmentation import find_boundaries

from medxai.data.dataset import to_model_input
from medxai.data.decode import MAX_PIXELS, read_image
from medxai.data.dicom import MONOCHROME, Window, decode_dicom, is_dicom, photometric_interpretation
from medxai.data.values import collected_warnings
from medxai.metrics import localisation
from medxai.metrics.faithfulness import area_under, curves

WINDOW_PRESETS = {"brain": (80, 40), "soft tissue": (400, 40), "lung": (1500, -600), "bone": (2500, 480)}
"""DICOM window presets: name -> (width, level) in Hounsfield units."""
FILE_WINDOW = "as stored (VOI LUT)"
DISPLAY_SIDE = 448
OUTLINE_RGB = (0.0, 1.0, 0.0)


@dataclass
class Picture:
    """An uploaded or picked image: its pixels (HxWx3 in [0, 1], the model's view), its bytes as sent to the
    service, its case id, whether window presets apply (a monochrome DICOM), and what decoding warned about."""

    pixels: np.ndarray
    data: bytes
    case_id: str
    windows: bool = False
    notes: list[str] = field(default_factory=list)


def case_id(pixels: np.ndarray) -> str:
    """SHA-256 of the decoded pixels (and their shape): the same image has the same id in any file format."""
    digest = hashlib.sha256(str(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels, dtype=np.float32).tobytes())
    return digest.hexdigest()


def load_picture(data: bytes) -> Picture:
    """Decode bytes in any accepted format exactly as the CLI and the service do (a `UserError` says what is
    wrong with a bad file); warnings a viewer would show (an out-of-standard window) are kept as notes."""
    with collected_warnings() as notes:
        pixels = read_image(data)
    windows = is_dicom(data) and photometric_interpretation(data) in MONOCHROME
    return Picture(pixels, data, case_id(pixels), windows, notes)


def windowed(picture: Picture, preset: str) -> np.ndarray:
    """The picture as shown: a monochrome DICOM through a window preset (width, level) in place of its own VOI,
    then its polarity, by the decoder the model input comes from; anything else as decoded."""
    if not picture.windows or preset not in WINDOW_PRESETS:
        return picture.pixels
    width, level = WINDOW_PRESETS[preset]
    return decode_dicom(picture.data, MAX_PIXELS, Window(center=level, width=width))


def display_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is DISPLAY_SIDE."""
    height, width = shape[:2]
    scale = DISPLAY_SIDE / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resized(array: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """A float HxW or HxWx3 array resized to (width, height)."""
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    if array.ndim == 2:
        return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize(size, resample))
    return np.stack([resized(array[:, :, c], size, nearest) for c in range(array.shape[2])], axis=2)


def map_values(message) -> np.ndarray:
    """A streamed `Map` as float32 [H, W] in [0, 1]."""
    return np.frombuffer(message.data, dtype=np.uint8).reshape(tuple(message.shape)).astype(np.float32) / 255.0


def blend(image: np.ndarray, saliency: np.ndarray | None, opacity: float, mask: np.ndarray | None = None,
          colormap: str = "jet") -> np.ndarray:
    """The image at display size with the map alpha-blended at `opacity` and the mask's outline; uint8 RGB."""
    size = display_size(image.shape)
    shown = resized(image, size)
    if saliency is not None:
        heat = colormaps[colormap](np.clip(resized(saliency, size), 0, 1))[:, :, :3]
        shown = (1 - opacity) * shown + opacity * heat
    if mask is not None:
        edge = find_boundaries(resized(mask.astype(np.float32), size, nearest=True) > 0.5, mode="thick")
        shown[edge] = OUTLINE_RGB
    return (np.clip(shown, 0, 1) * 255).round().astype(np.uint8)


def box_mask(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    """A filled (x0, y0, x1, y1) box as a boolean mask of the image's shape."""
    mask = np.zeros(shape[:2], bool)
    x0, y0, x1, y1 = box
    mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return mask


def localisation_scores(saliency: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """IoU (top pixels of the mask's area) and pointing game, the mask brought to the map's size."""
    small = resized(mask.astype(np.float32), (saliency.shape[1], saliency.shape[0]), nearest=True) > 0.5
    return {"iou": localisation.iou(saliency, small), "pointing_game": localisation.pointing_game(saliency, small)}


def faithfulness_curves(picture: Picture, saliency: np.ndarray, target: int, image_size: int,
                        predict_one, steps: int = 16) -> dict[str, tuple[np.ndarray, float]]:
    """Deletion and insertion curves of one map, every perturbed image classified by the service:
    {mode: (target probability per step, area under the curve)}."""
    image = to_model_input(picture.pixels, image_size)

    def predict(batch: torch.Tensor) -> torch.Tensor:
        arrays = [item.permute(1, 2, 0).numpy() for item in batch]
        with ThreadPoolExecutor(max_workers=4) as pool:
            return torch.from_numpy(np.stack(list(pool.map(predict_one, arrays))))

    result = {}
    for mode in ("deletion", "insertion"):
        curve = curves(predict, image[None], torch.from_numpy(saliency)[None], torch.tensor([target]), mode,
                       steps=steps)[0]
        result[mode] = (curve, float(area_under(curve)))
    return result
