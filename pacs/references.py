"""How a result points at the image it was made from: Source Image Sequence (PS3.3 C.7.6.1.1.4) and the
Referenced Series Sequence of the Common Instance Reference module (PS3.3 C.12.2)."""

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


def instance_reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item


def reference_source(result: Dataset, source: Dataset) -> Dataset:
    """Add both references to `result` (in place; an existing Source Image Sequence is kept) and return it."""
    if "SourceImageSequence" not in result:
        result.SourceImageSequence = Sequence([instance_reference(source)])
    series = Dataset()
    series.SeriesInstanceUID = source.SeriesInstanceUID
    series.ReferencedInstanceSequence = Sequence([instance_reference(source)])
    result.ReferencedSeriesSequence = Sequence([series])
    return result
