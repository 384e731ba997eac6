"""Patient Orientation for any plane (PS3.3 C.7.6.1.1.1), and result objects that stay valid for oblique,
gantry-tilted and geometry-less sources (dciodvfy, dicom3tools)."""

import numpy as np
import pydicom
import pytest

from pacs import dciodvfy
from pacs.explanation import Explanation
from pacs.geometry import patient_orientation
from pacs.results import result_objects
from pacs.synthetic import synthetic_study
from tests.pacs.corpus import named

SC = "1.2.840.10008.5.1.4.1.1.7"


def with_orientation(orientation: list[float] | None, own: list[str] | None = None) -> pydicom.Dataset:
    source = synthetic_study([np.random.default_rng(0).random((40, 48))], ["MR"])[0]
    if orientation is None:
        del source.ImageOrientationPatient
    else:
        source.ImageOrientationPatient = orientation
    if own is not None:
        source.PatientOrientation = own
    return source


@pytest.mark.parametrize("orientation, expected", [
    ([1, 0, 0, 0, 1, 0], ("L", "P")),                                 # axial
    ([-1, 0, 0, 0, -1, 0], ("R", "A")),                               # axial, flipped both ways
    ([0, 1, 0, 0, 0, -1], ("P", "F")),                                # sagittal
    ([0.569486, 0.822001, 0, 0, 0, -1], ("PL", "F")),                 # pydicom-data's MR2_UNCR: an oblique row
    ([1, 0, 0, 0, 0.965926, -0.258819], ("L", "PF")),                 # CT with a 15 degree gantry tilt
    ([0.6, 0.64, 0.48, -0.8, 0.48, 0.36], ("PLH", "RPH")),            # double oblique: three letters each
    ([1, 0, 0.0004, 0, 1, 0], ("L", "P")),                            # rounding in the file is not a direction
])
def test_orientation_letters_follow_the_standard(orientation, expected):
    assert patient_orientation(with_orientation(orientation)) == expected


def test_orientation_without_geometry_and_with_its_own_value():
    assert patient_orientation(with_orientation(None)) == ("L", "F")                    # a frontal projection
    assert patient_orientation(with_orientation(None, ["A", "FR"])) == ("A", "FR")     # the source's own
    assert patient_orientation(with_orientation([0, 1, 0, 0, 0, -1], ["X", "?"])) == ("P", "F")  # junk: derived


def explanation() -> Explanation:
    rng = np.random.default_rng(1)
    return Explanation(request_id="r", model_name="phantom", model_version="1", checkpoint_sha256="cd34" * 16,
                       class_names=["benign", "malignant"], probabilities={"benign": 0.2, "malignant": 0.8},
                       predicted="malignant", target="malignant",
                       maps={m: rng.random((64, 64)).astype(np.float32) for m in ("cam", "ig", "lime", "fusion")})


@pytest.mark.skipif(not dciodvfy.available(), reason="dciodvfy is not installed (apt-get install dicom3tools)")
@pytest.mark.parametrize("source", ["MR2_UNCR.dcm", "tilted", "no-geometry"])
def test_results_of_any_plane_pass_dciodvfy(source):
    """The oblique MR that once stalled the receiver (highdicom refused 'PL'), a gantry-tilted CT-like plane, and
    an image without plane geometry: every object written is valid, the capture says the plane's orientation."""
    if source == "MR2_UNCR.dcm":
        dataset = pydicom.dcmread(named(source))
    else:
        dataset = with_orientation([1, 0, 0, 0, 0.965926, -0.258819] if source == "tilted" else None)
    results = result_objects(dataset, explanation())
    for result in results:
        assert dciodvfy.errors(result) == [], (source, result.SOPClassUID)
    capture = next(r for r in results if r.SOPClassUID == SC)
    assert tuple(capture.PatientOrientation) == patient_orientation(dataset)
