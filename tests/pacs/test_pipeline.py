"""Which instances a PACS sends cannot be explained, and why: one sentence each, read from attributes only."""

import pydicom
import pytest

from pacs.pipeline import is_source_image, refusal
from tests.pacs.corpus import corpus_files, named


@pytest.mark.parametrize("name, words, source_image", [
    ("liver_1frame.dcm", "Modality SEG", True),                    # a segmentation
    ("JPEGLSNearLossless_08.dcm", "lacks (0020,000D) Study Instance UID", True),
    ("badVR.dcm", "Modality RTDOSE", True),                        # a dose grid (and a damaged element)
    ("test-SR.dcm", "not an image", False),                        # a structured report
])
def test_refusals_say_why(name, words, source_image):
    dataset = pydicom.dcmread(named(name), force=True)
    reason = refusal(dataset)
    assert reason is not None and words in reason
    assert is_source_image(dataset) == source_image


@pytest.mark.parametrize("name", ["emri_small.dcm", "emri_small_RLE.dcm", "MR2_UNCR.dcm", "MR2_J2KR.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "JPGLosslessP14SV1_1s_1f_8b.dcm", "CT_small.dcm", "US1_J2KR.dcm"])
def test_images_in_any_transfer_syntax_are_explained(name):
    assert refusal(pydicom.dcmread(named(name))) is None


def test_refusal_never_raises_on_the_corpus():
    """Whatever the file holds, a reason or None, never an exception (the queue must not stall on one)."""
    for path in corpus_files():
        try:
            dataset = pydicom.dcmread(path, force=True)
        except Exception:  # unreadable files are the receiver's to fail; refusal only sees what was read
            continue
        reason = refusal(dataset)
        assert reason is None or (isinstance(reason, str) and reason), path.name


def test_multi_frame_images_over_the_frame_limit_are_refused():
    enhanced = pydicom.dcmread(named("emri_small.dcm"))  # an Enhanced MR of 10 frames
    assert refusal(enhanced) is None and refusal(enhanced, max_frames=10) is None
    reason = refusal(enhanced, max_frames=4)
    assert reason == ("a multi-frame image of 10 frames, over the limit of 4 frames explained per image "
                      "(--max-frames)")


def test_a_damaged_attribute_is_a_reason_not_an_exception():
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag
    dataset = pydicom.dcmread(named("MR_small.dcm"))
    tag = Tag(0x0028, 0x0008)  # Number of Frames, as in pydicom's badVR.dcm: an IS that is not a number
    dataset._dict[tag] = RawDataElement(tag, "IS", 2, b"1A", 0, False, True)
    reason = refusal(dataset)
    assert reason is not None and reason.startswith("a damaged attribute")
