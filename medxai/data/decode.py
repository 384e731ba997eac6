"""One way to turn image bytes into float32 HxWx3 pixels in [0, 1], the image a viewer shows, for every front end
(CLI, service, dashboard, training data, worklists): the one list of accepted formats and the one minimum size.

- PNG, JPEG, TIFF: EXIF/TIFF orientation applied (Pillow's `ImageOps.exif_transpose`), as viewers do; 8-bit
  values divided by 255; 16-bit, 32-bit integer and float rasters stretched from their minimum to their maximum.
- DICOM: `medxai.data.dicom` (modality LUT, VOI, polarity; colour divided by its full scale like PNG).
- NumPy .npy: HxW, HxWx1 or HxWx3, uint8 (divided by 255) or float already in [0, 1].

Grayscale becomes three equal channels; alpha is dropped. NaN or infinite values are refused with their count,
never silently zeroed. Problems a viewer would work around (a window outside the standard) are a
`DecodeWarning`; anything else wrong with the file is a `UserError` of one sentence.
"""

import io
import math
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError

from medxai.data.dicom import decode_dicom, displayed, is_dicom
from medxai.data.frames import frame_count, frame_images
from medxai.data.values import DecodeWarning, check_finite, stretch  # noqa: F401 (DecodeWarning: re-exported)
from medxai.errors import UserError

MAX_PIXELS = 50_000_000
"""Decompression-bomb guard: images above this many pixels are refused before decoding."""
MIN_SIDE = 8
"""Smallest accepted height and width, in every format and front end. The coarsest map medxai draws is
Grad-CAM's at the backbone's last stage (stride 32: 7x7 cells at 224 px); an image with fewer pixels per side
than that grid holds less detail than the map, so no map could point at anything in it. 8 also admits
MedMNIST's 28 px images."""
SIGNATURES = {"PNG": (b"\x89PNG\r\n\x1a\n",), "JPEG": (b"\xff\xd8\xff",), "TIFF": (b"II*\x00", b"MM\x00*"),
              "NumPy .npy": (b"\x93NUMPY",)}
"""How each accepted format begins (DICOM: 'DICM' after the 128-byte preamble, PS3.10 7.1)."""
FORMATS = ("PNG", "JPEG", "TIFF", "DICOM", "NumPy .npy")
"""The accepted formats, recognised by their content, never by a file name."""
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom", ".npy")
"""File name endings of those formats, for file pickers and folders."""
FORMAT_LIST = "PNG, JPEG, TIFF, DICOM or NumPy .npy"


def image_format(data: bytes) -> str | None:
    """The accepted format `data` is in, by its first bytes, or None."""
    if is_dicom(data):
        return "DICOM"
    return next((name for name, starts in SIGNATURES.items() if data.startswith(starts)), None)


def read_image(source: str | Path | bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a path or bytes in one of `FORMATS`; a `UserError` says what is wrong with anything else."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            raise UserError(f"image {path} is a folder; give its image files (e.g. {path / '*.dcm'})")
        if not path.is_file():
            raise UserError(f"image not found: {path}")
        data = path.read_bytes()
    else:
        data = bytes(source)
    if not data:
        raise UserError("image is empty")
    kind = image_format(data)
    if kind is None:
        raise UserError(f"not a {FORMAT_LIST} image (starts {data[:8]!r})")
    if kind == "DICOM":
        return checked_size(decode_dicom(data, max_pixels))
    if kind == "NumPy .npy":
        return array_to_pixels(_load_npy(data, max_pixels))
    return _decode_raster(data, max_pixels)


def read_frames(source: str | Path, max_pixels: int = MAX_PIXELS) -> list[np.ndarray]:
    """Every frame of an image file, each as `read_image` gives a single-frame image: a multi-frame DICOM image
    frame by frame (`medxai.data.frames`: each with its own geometry, rescale and window), anything else as its one
    frame. `max_pixels` bounds all frames together. Raises UserError as `read_image` does."""
    path = Path(source)
    data = path.read_bytes() if path.is_file() else b""
    if not is_dicom(data):  # the bytes already read; the path where there are none, for its own error
        return [read_image(data or source, max_pixels)]
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
        count = frame_count(dataset)
        size = int(dataset.Rows) * int(dataset.Columns) * max(int(dataset.get("SamplesPerPixel") or 1), 1) * count
    except Exception as exc:  # pydicom raises many types for damaged files
        raise UserError(f"cannot decode DICOM image: {type(exc).__name__}: {exc}") from None
    if count == 1:
        return [checked_size(displayed(dataset, max_pixels))]
    if size > max_pixels:
        raise UserError(f"multi-frame DICOM image of {count} frames of {dataset.Rows}x{dataset.Columns} pixels "
                        f"exceeds the limit of {max_pixels} pixels for all frames together")
    try:
        frames = frame_images(dataset)
    except Exception as exc:  # pydicom raises many types for damaged files
        raise UserError(f"cannot decode DICOM image: {type(exc).__name__}: {exc}") from None
    return [checked_size(displayed(frame, max_pixels)) for frame in frames]


def checked_size(pixels: np.ndarray) -> np.ndarray:
    """`pixels` if both sides are at least `MIN_SIDE`, else the one-line refusal every front end gives."""
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise UserError(f"image of {width}x{height} pixels is too small: width and height must be at least "
                        f"{MIN_SIDE} pixels")
    return pixels


def array_to_pixels(array: np.ndarray) -> np.ndarray:
    """A raw HxW, HxWx1 or HxWx3 array (uint8 0-255 or float 0-1) as float32 HxWx3 in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise UserError(f"image array must be HxW, HxWx1 or HxWx3, got shape {array.shape}")
    checked_size(array)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise UserError(f"image array dtype must be uint8 or float, got {array.dtype}")
    if array.dtype != np.uint8:
        check_finite(array, "image array")
        if array.min() < 0 or array.max() > 1:
            raise UserError("float image arrays must lie in [0, 1]")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)


def _load_npy(data: bytes, max_pixels: int) -> np.ndarray:
    """A .npy array, its header checked first: NumPy allocates the shape the header declares before reading."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise UserError(f"not a readable NumPy .npy array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise UserError("NumPy .npy arrays of Python objects are not images")
    if len(shape) in (2, 3) and shape[0] * shape[1] > max_pixels:
        raise UserError(f"image of {shape[1]}x{shape[0]} pixels exceeds the limit of {max_pixels}")
    if math.prod(shape) * dtype.itemsize > len(data) - stream.tell():
        raise UserError(f"NumPy .npy array of shape {shape} is truncated")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _decode_raster(data: bytes, max_pixels: int) -> np.ndarray:
    """PNG, JPEG or TIFF through Pillow, turned upright by its EXIF/TIFF orientation (values 1-8)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise UserError(f"image of {image.width}x{image.height} pixels exceeds the limit of {max_pixels}")
            if getattr(image, "n_frames", 1) > 1:
                raise UserError(f"multi-frame images ({image.n_frames} frames) are not supported")
            image.load()
            upright = ImageOps.exif_transpose(image)
            checked_size(np.empty((upright.height, upright.width)))
            if upright.mode in ("I;16", "I;16L", "I;16B", "I", "F"):
                values = np.asarray(upright, dtype=np.float64)
                check_finite(values)
                return array_to_pixels(stretch(values).astype(np.float32))
            return np.asarray(upright.convert("RGB"), dtype=np.float32) / 255.0
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"not a readable {FORMAT_LIST} image ({type(exc).__name__}: {exc})") from None
