"""DICOM decoding with pydicom: modality LUT (rescale slope/intercept), VOI LUT or window, MONOCHROME1 inversion.

Only pixels leave this module: patient tags are never returned, logged or stored.
"""

import io

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from medxai.errors import UserError

DICOM_MAGIC_OFFSET = 128


def is_dicom(data: bytes) -> bool:
    return len(data) >= DICOM_MAGIC_OFFSET + 4 and data[DICOM_MAGIC_OFFSET:DICOM_MAGIC_OFFSET + 4] == b"DICM"


def decode_dicom(data: bytes, max_pixels: int) -> np.ndarray:
    """Pixels as float32 HxWx3 in [0, 1]. Multi-frame and oversized images are refused with a clear error."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if frames > 1:
            raise UserError(f"multi-frame DICOM ({frames} frames) is not supported: send one frame per image")
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = max(int(getattr(ds, "SamplesPerPixel", 1) or 1), 1)  # colour decodes into 3x the memory
        if rows * cols * samples > max_pixels:
            raise UserError(f"DICOM image of {rows}x{cols} pixels ({samples} samples each, each counted) exceeds the "
                            f"limit of {max_pixels} pixels")
        pixels = ds.pixel_array
    except UserError:
        raise
    except Exception as exc:  # pydicom raises many types for damaged files
        raise UserError(f"cannot decode DICOM image: {type(exc).__name__}: {exc}") from None
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        values = apply_modality_lut(pixels, ds).astype(np.float64)
        values = np.asarray(apply_voi_lut(values, ds), dtype=np.float64)
        values = _to_unit_range(values)
        if photometric == "MONOCHROME1":
            values = 1.0 - values
        return np.repeat(values[:, :, None], 3, axis=2).astype(np.float32)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise UserError(f"unsupported DICOM photometric interpretation {photometric} with shape {pixels.shape}")
    if photometric.startswith("YBR"):
        from pydicom.pixels import convert_color_space
        pixels = convert_color_space(pixels, photometric, "RGB")
    return _to_unit_range(pixels.astype(np.float64)).astype(np.float32)


def _to_unit_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if not np.isfinite([low, high]).all():
        raise UserError("DICOM pixel data contains NaN or infinite values")
    return (values - low) / (high - low) if high > low else np.zeros_like(values)
