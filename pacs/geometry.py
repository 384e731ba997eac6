"""What a source image says about where its pixels are, and maps brought to its pixel grid."""

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

PLANE_ATTRIBUTES = ("FrameOfReferenceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
"""Frame of Reference (PS3.3 C.7.4.1) and Image Plane (C.7.6.2): what a Parametric Map's plane position needs."""


def has_plane_geometry(source: Dataset) -> bool:
    """Whether the source places its pixels in the patient (CT, MR) or not (CR, DX, photographs)."""
    return all(source.get(name) not in (None, "") for name in PLANE_ATTRIBUTES)


def at_source_grid(saliency: np.ndarray, source: Dataset) -> np.ndarray:
    """A map at the model's input size resampled (bilinear) to the source's Rows x Columns, float32 in [0, 1]."""
    rows, columns = int(source.Rows), int(source.Columns)
    if saliency.shape == (rows, columns):
        return saliency.astype(np.float32)
    resized = Image.fromarray(saliency.astype(np.float32), mode="F").resize((columns, rows), Image.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def patient_orientation(source: Dataset) -> tuple[str, str]:
    """Patient Orientation (0020,0020) of the source, or derived from its Image Orientation (PS3.3 C.7.6.1.1.1)."""
    if source.get("PatientOrientation") and len(source.PatientOrientation) == 2:
        return tuple(str(value) for value in source.PatientOrientation)
    orientation = source.get("ImageOrientationPatient")
    if not orientation:
        return ("L", "F")  # rows to the patient's left, columns to the feet: a frontal projection

    def letters(vector) -> str:
        positive, negative = ("L", "P", "H"), ("R", "A", "F")
        order = np.argsort(-np.abs(np.asarray(vector, dtype=float)))
        return "".join((positive if vector[axis] > 0 else negative)[axis] for axis in order
                       if abs(vector[axis]) > 1e-3)[:3]
    return letters(orientation[:3]), letters(orientation[3:])
