"""What a source image says about where its pixels are, and maps brought to its pixel grid."""

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

PLANE_ATTRIBUTES = ("FrameOfReferenceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
"""Frame of Reference (PS3.3 C.7.4.1) and Image Plane (C.7.6.2): what a Parametric Map's plane position needs."""
BIPED_LETTERS = "LRAPHF"
"""Patient Orientation's letters for a biped (PS3.3 C.7.6.1.1.1); a source value with others is not used."""
ORIENTATION_TOLERANCE = 1e-3
"""A direction cosine below this is not a component of the direction (it is rounding in the file's value)."""


def has_plane_geometry(source: Dataset) -> bool:
    """Whether the source places its pixels in the patient (CT, MR) or not (CR, DX, photographs); an enhanced
    multi-frame image does so in its functional groups (PS3.3 C.7.6.16)."""
    from medxai.data.frames import functional_attributes
    found = {name: source.get(name) for name in PLANE_ATTRIBUTES} | functional_attributes(source, 0)
    return all(found.get(name) not in (None, "") for name in PLANE_ATTRIBUTES)


def at_source_grid(saliency: np.ndarray, source: Dataset) -> np.ndarray:
    """A map at the model's input size resampled (bilinear) to the source's Rows x Columns, float32 in [0, 1]."""
    rows, columns = int(source.Rows), int(source.Columns)
    if saliency.shape == (rows, columns):
        return saliency.astype(np.float32)
    resized = Image.fromarray(saliency.astype(np.float32), mode="F").resize((columns, rows), Image.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def patient_orientation(source: Dataset) -> tuple[str, str]:
    """Patient Orientation (0020,0020) of the source: its own when it has two values, else derived from its Image
    Orientation (Patient) as PS3.3 C.7.6.1.1.1 says: for each of the row and column directions, the letters of the
    patient axes it has a component along (L/R, P/A, H/F), the largest component first, so an oblique row of
    (0.569, 0.822, 0) is 'PL' and a gantry-tilted column 'FP'. Without either: ('L', 'F'), a frontal projection
    (rows to the patient's left, columns to the feet), the convention of projection radiography."""
    own = [str(value).strip().upper() for value in (source.get("PatientOrientation") or [])]
    if len(own) == 2 and all(value and set(value) <= set(BIPED_LETTERS) for value in own):
        return own[0], own[1]
    orientation = source.get("ImageOrientationPatient")
    try:
        vectors = np.asarray([float(value) for value in orientation], dtype=float).reshape(2, 3)
    except (TypeError, ValueError):
        return ("L", "F")
    if not np.isfinite(vectors).all() or not (np.abs(vectors) > ORIENTATION_TOLERANCE).any(axis=1).all():
        return ("L", "F")

    def letters(vector: np.ndarray) -> str:
        positive, negative = ("L", "P", "H"), ("R", "A", "F")
        order = np.argsort(-np.abs(vector), kind="stable")
        return "".join((positive if vector[axis] > 0 else negative)[axis] for axis in order
                       if abs(vector[axis]) > ORIENTATION_TOLERANCE)
    return letters(vectors[0]), letters(vectors[1])


def single_letter(orientation: tuple[str, str]) -> tuple[str, str]:
    """Each direction's dominant letter only. highdicom's typed constructors accept one letter per direction
    (its PatientOrientationValuesBiped enumeration), which the standard does not require (C.7.6.1.1.1 adds one or
    two letters for oblique planes): objects are built with these and given the whole value afterwards."""
    return orientation[0][:1], orientation[1][:1]
