"""Every DICOM object medxai writes for one explained source image, decided per source:
- one Parametric Map per map (the fused map and each method, each kind in a series of its own), when the source
  has plane geometry;
- one Secondary Capture with the fused overlay and the finding burnt in (one per frame of a multi-frame image);
- one Comprehensive SR (TID 1500), which says when Parametric Maps were not written and why.
A source outside the model's intended use (any of its frames) gets no Parametric Map: one Secondary Capture and
the report, both saying "not assessed" and why.
"""

from pydicom.dataset import Dataset

from pacs.explanation import Explanation
from pacs.geometry import has_plane_geometry
from pacs.parametric_map import parametric_map
from pacs.secondary_capture import secondary_capture
from pacs.structured_report import structured_report


def result_objects(source: Dataset, explanation: Explanation | list[Explanation], sanity_passed: bool | None = None,
                   frames: list[Dataset] | None = None) -> list[Dataset]:
    """The results for `source`, Parametric Maps first and the report last; `sanity_passed` is the release gate's
    sanity check of the model version (None: not known). A multi-frame source comes with its `frames` (each as a
    single-frame image, `frames.frame_images`) and one explanation per frame: one multi-frame Parametric Map per
    map kind, one Secondary Capture per frame, one report with a measurement group per frame."""
    explanations = explanation if isinstance(explanation, list) else [explanation]
    if frames is not None and len(frames) != len(explanations):
        raise ValueError(f"{len(explanations)} explanations for {len(frames)} frames")
    number = int(source.get("InstanceNumber") or 1)
    if not all(each.in_scope for each in explanations):
        outside = next(each for each in explanations if not each.in_scope)
        return [secondary_capture(source, outside, number, (1, frames[0]) if frames else None),
                structured_report(source, [outside], number, parametric_maps_written=False,
                                  sanity_passed=sanity_passed)]
    maps = list(explanations[0].maps) if has_plane_geometry(source) else []
    results: list[Dataset] = [parametric_map(source, explanations, method, number) for method in maps]
    if frames:
        results += [secondary_capture(source, each, index + 1, (index + 1, frame))
                    for index, (each, frame) in enumerate(zip(explanations, frames))]
    else:
        results.append(secondary_capture(source, explanations[0], number))
    results.append(structured_report(source, explanations, number, parametric_maps_written=bool(maps),
                                     sanity_passed=sanity_passed, frames=frames))
    return results
