"""Every DICOM object medxai writes for one explained source image, decided per source:
- one Parametric Map per map (the fused map and each method), when the source has plane geometry;
- one Secondary Capture with the fused overlay and the finding burnt in;
- one Comprehensive SR (TID 1500), which says when Parametric Maps were not written and why.
"""

from pydicom.dataset import Dataset

from pacs.explanation import Explanation
from pacs.geometry import has_plane_geometry
from pacs.parametric_map import parametric_map
from pacs.secondary_capture import secondary_capture
from pacs.structured_report import structured_report


def result_objects(source: Dataset, explanation: Explanation, sanity_passed: bool | None = None) -> list[Dataset]:
    """The results for `source`, Parametric Maps first and the report last; `sanity_passed` is the release gate's
    sanity check of the model version (None: not known)."""
    number = int(source.get("InstanceNumber") or 1)
    maps = list(explanation.maps) if has_plane_geometry(source) else []
    results: list[Dataset] = [parametric_map(source, explanation, method, (number - 1) * len(maps) + index + 1)
                              for index, method in enumerate(maps)]
    results.append(secondary_capture(source, explanation, number))
    results.append(structured_report(source, explanation, number, parametric_maps_written=bool(maps),
                                     sanity_passed=sanity_passed))
    return results
