"""One way to turn image bytes (PNG, JPEG, DICOM, a .npy array) into float32 HxWx3 pixels in [0, 1]."""

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medxai.data.dicom import decode_dicom, is_dicom
from medxai.errors import UserError

MAX_PIXELS = 50_000_000
"""Decompression-bomb guard: images above this many pixels are refused before decoding."""


def read_image(source: str | Path | bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a path or bytes. Grayscale becomes three equal channels; alpha is dropped."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise UserError(f"image not found: {path}")
        if path.suffix.lower() == ".npy":
            return array_to_pixels(np.load(path, allow_pickle=False))
        data = path.read_bytes()
    else:
        data = bytes(source)
    if not data:
        raise UserError("image is empty")
    if is_dicom(data):
        return decode_dicom(data, max_pixels)
    return _decode_raster(data, max_pixels)


def array_to_pixels(array: np.ndarray) -> np.ndarray:
    """A raw HxW, HxWx1 or HxWx3 array (uint8 0-255 or float 0-1) as float32 HxWx3 in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 8:
        raise UserError(f"image array must be HxW, HxWx1 or HxWx3 with sides of at least 8, got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise UserError(f"image array dtype must be uint8 or float, got {array.dtype}")
    if not np.isfinite(array).all():
        raise UserError("image array contains NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise UserError("float image arrays must lie in [0, 1]")
    return array.astype(np.float32)


def _decode_raster(data: bytes, max_pixels: int) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise UserError(f"image of {image.width}x{image.height} pixels exceeds the limit of {max_pixels}")
            if getattr(image, "n_frames", 1) > 1:
                raise UserError(f"multi-frame images ({image.n_frames} frames) are not supported")
            image.load()
            if image.mode in ("I;16", "I;16B", "I", "F"):
                values = np.asarray(image, dtype=np.float64)
                span = values.max() - values.min()
                gray = (values - values.min()) / span if span > 0 else np.zeros_like(values)
                return array_to_pixels(gray.astype(np.float32))
            return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"not a readable PNG, JPEG or DICOM image ({type(exc).__name__}: {exc})") from None
