"""How a result points at the image it was made from: Source Image Sequence (PS3.3 C.7.6.1.1.4) and the
Referenced Series Sequence of the Common Instance Reference module (PS3.3 C.12.2)."""

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


def instance_reference(source: Dataset, frame_number: int | None = None) -> Dataset:
    """An image reference (SOP Class and Instance UIDs), to one frame when `frame_number` (from 1) is given."""
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    if frame_number is not None:
        item.ReferencedFrameNumber = frame_number
    return item


def reference_source(result: Dataset, source: Dataset, frame_number: int | None = None) -> Dataset:
    """Add both references to `result` (in place; an existing Source Image Sequence is kept) and return it; the
    source image reference names the frame it was made from, for a multi-frame source."""
    if "SourceImageSequence" not in result or frame_number is not None:
        result.SourceImageSequence = Sequence([instance_reference(source, frame_number)])
    series = Dataset()
    series.SeriesInstanceUID = source.SeriesInstanceUID
    series.ReferencedInstanceSequence = Sequence([instance_reference(source)])
    result.ReferencedSeriesSequence = Sequence([series])
    return result
