"""DICOM pixels as a viewer shows them, with pydicom, in the order of the standard's grayscale pipeline:
modality LUT (PS3.3 C.11.1), VOI LUT or window (C.11.2), then polarity (MONOCHROME1 shown inverted,
C.7.6.3.1.2). Colour images are pydicom's RGB (YBR_FULL, YBR_FULL_422 and JPEG 2000's YBR_ICT/YBR_RCT are
converted by the decoder, once) divided by their full scale, as an 8-bit PNG is divided by 255.

The dashboard's window presets are a different VOI window through this same pipeline, so what a reviewer
sees and what the model receives differ only in the window. Only pixels leave this module: patient tags are
never returned, logged or stored.
"""

import io
from typing import NamedTuple

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.uid import JPEGBaseline8Bit

from medxai.data.values import check_finite, stretch, warn
from medxai.errors import UserError

DICOM_MAGIC_OFFSET = 128
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
"""Colour photometric interpretations (PS3.3 C.7.6.3.1.2) that pydicom decodes to RGB."""


class Window(NamedTuple):
    """A VOI window (PS3.3 C.11.2.1.2) in modality units, e.g. Hounsfield units for CT."""

    center: float
    width: float


def is_dicom(data: bytes) -> bool:
    """A DICOM file: 'DICM' after the 128-byte preamble (PS3.10 7.1)."""
    return len(data) >= DICOM_MAGIC_OFFSET + 4 and data[DICOM_MAGIC_OFFSET:DICOM_MAGIC_OFFSET + 4] == b"DICM"


def photometric_interpretation(data: bytes) -> str:
    """(0028,0004) of a DICOM file, upper case ('MONOCHROME2' when absent, its default meaning)."""
    dataset = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    return str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()


def decode_dicom(data: bytes, max_pixels: int, window: Window | None = None) -> np.ndarray:
    """Pixels of a DICOM file's bytes as float32 HxWx3 in [0, 1] (see `displayed`); any transfer syntax pydicom
    has a decoder for (the pylibjpeg, pyjpegls and Pillow plugins: JPEG baseline, extended and lossless, JPEG-LS,
    JPEG 2000, RLE, deflate). Raises `UserError` of one sentence for a file that cannot be read."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types for damaged files
        raise UserError(f"cannot decode DICOM image: {type(exc).__name__}: {exc}") from None
    return displayed(dataset, max_pixels, window)


def displayed(dataset: Dataset, max_pixels: int, window: Window | None = None) -> np.ndarray:
    """A single-frame DICOM image as a viewer shows it: float32 HxWx3 in [0, 1]. `window` replaces the file's own
    VOI (monochrome images only). `max_pixels` bounds rows x columns x samples before anything is decoded.

    Every step runs inside the one place that turns what pydicom raises about a damaged or out-of-standard
    file into a `UserError` of one sentence: no traceback reaches a user."""
    try:
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            raise UserError(f"multi-frame DICOM ({frames} frames) is not supported: send one frame per image")
        rows, cols = int(dataset.Rows), int(dataset.Columns)
        samples = max(int(dataset.get("SamplesPerPixel", 1) or 1), 1)  # colour decodes into 3x the memory
        if rows * cols * samples > max_pixels:
            raise UserError(f"DICOM image of {rows}x{cols} pixels ({samples} samples each, each counted) exceeds "
                            f"the limit of {max_pixels} pixels")
        photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
        pixels = decoded_pixels(dataset)  # YBR_* arrive as RGB (pydicom's as_rgb default): never convert again
        if photometric in MONOCHROME:
            values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
            check_finite(values, "DICOM pixel data")
            gray = voi(values, dataset, window)
            if photometric == "MONOCHROME1":
                gray = 1.0 - gray
            return np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32)
        if photometric not in COLOUR:
            raise UserError(f"unsupported DICOM photometric interpretation {photometric}")
        return colour(pixels, dataset, photometric)
    except UserError:
        raise
    except Exception as exc:  # pydicom raises many types for damaged files
        raise UserError(f"cannot decode DICOM image: {type(exc).__name__}: {exc}") from None


def decoded_pixels(dataset: Dataset) -> np.ndarray:
    """pydicom's pixel array (every frame of a multi-frame image). JPEG baseline goes through Pillow's decoder where it can, as a plain JPEG file does:
    libjpeg (pylibjpeg) upsamples 4:2:2 chroma differently (up to 11/255 apart), and the same stream should give
    the model the same input whether it came as a .jpg upload or inside a DICOM file."""
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") == JPEGBaseline8Bit:
        try:
            dataset.pixel_array_options(decoding_plugin="pillow")
            return dataset.pixel_array
        except Exception:  # Pillow cannot decode this stream: the other plugins may
            dataset.pixel_array_options(decoding_plugin="")
    return dataset.pixel_array


def voi(values: np.ndarray, dataset: Dataset, window: Window | None = None) -> np.ndarray:
    """Modality values through the VOI LUT or window (PS3.3 C.11.2), scaled from the VOI's output range to
    [0, 1]. Without a VOI, or with one outside the standard (a window width under 1, an unknown VOI LUT
    Function, a LUT that does not decode), the data's own range is used, as viewers do, with a `DecodeWarning`."""
    if window is not None:  # a preset: an exact width in modality units (LINEAR_EXACT, C.11.2.1.3.2)
        for keyword in ("VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction"):
            if keyword in dataset:
                delattr(dataset, keyword)
        dataset.WindowCenter, dataset.WindowWidth = window.center, window.width
        dataset.VOILUTFunction = "LINEAR_EXACT"
    lut = _voi_lut_domain(dataset)
    if lut is None and not ("WindowCenter" in dataset and "WindowWidth" in dataset):
        return stretch(values)
    try:
        if lut is not None:  # LUT inputs are integers (C.11.2.1.1)
            shown = apply_voi_lut(np.rint(values).astype(np.int64), dataset)
            outputs = apply_voi_lut(lut, dataset)
            low, high = float(outputs.min()), float(outputs.max())
        else:
            shown = apply_voi_lut(values, dataset)
            low, high = (float(v) for v in apply_voi_lut(np.array([-np.inf, np.inf]), dataset))
        if not (np.isfinite([low, high]).all() and high != low and np.isfinite(shown).all()):
            raise ValueError(f"its output range [{low}, {high}] is empty or not finite")
    except (ValueError, NotImplementedError, AttributeError, TypeError, IndexError, KeyError) as exc:
        warn(f"the DICOM file's VOI LUT or window is outside the standard ({exc}); using the image's own value "
             f"range instead, as viewers do")
        return stretch(values)
    return np.clip((np.asarray(shown, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def colour(pixels: np.ndarray, dataset: Dataset, photometric: str) -> np.ndarray:
    """RGB divided by its full scale (2^BitsStored - 1, or the palette's entry size): 8-bit colour gives what
    the same pixels give as a PNG. Never stretched to the image's own range, which would change its colours."""
    if photometric == "PALETTE COLOR":
        pixels = apply_color_lut(pixels, dataset)
        scale = float(np.iinfo(pixels.dtype).max)
    else:
        scale = float(2 ** int(dataset.get("BitsStored", 8) or 8) - 1)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise UserError(f"DICOM {photometric} pixel data has shape {pixels.shape}, not rows x columns x 3")
    return (np.asarray(pixels, dtype=np.float64) / scale).clip(0.0, 1.0).astype(np.float32)


def _voi_lut_domain(dataset: Dataset) -> np.ndarray | None:
    """Every input of the first VOI LUT (first mapped value, entries: PS3.3 C.11.2.1.1), or None without one."""
    sequence = dataset.get("VOILUTSequence")
    if not sequence or sequence[0].get("LUTDescriptor") is None or sequence[0].get("LUTData") is None:
        return None
    entries, first = int(sequence[0].LUTDescriptor[0]) or 2**16, int(sequence[0].LUTDescriptor[1])
    return np.arange(first, first + entries, dtype=np.int64)
