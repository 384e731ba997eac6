"""A Parametric Map (PS3.3 A.75) of one explanation map: float pixels, quantity Class activation (DCM 130402),
at the source image's geometry, derived from it (Derivation Image / Source Image sequences, same Frame of
Reference). Written only for sources with plane geometry (see `geometry.has_plane_geometry`).

Each map kind has a series of its own (per source series and model version): a viewer such as OHIF shows one
display set per series, so four maps in one series left three of them out of reach."""

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from pacs import provenance
from pacs.explanation import Explanation
from pacs.geometry import at_source_grid

SERIES_NUMBER = 9111
"""The first map kind's series number; the others follow in METHOD_NAMES' order (9111 to 9115: apart from the
capture's 9102 and the report's 9103)."""
METHOD_NAMES = {"cam": "Class-activation map", "gradcam": "Grad-CAM", "ig": "Integrated Gradients", "lime": "LIME",
                "fusion": "Fused map"}


def parametric_map(source: Dataset, explanations: list[Explanation], method: str,
                   instance_number: int) -> hd.pm.ParametricMap:
    """The `method` map of each explanation, one per frame of the source (one for a single-frame image), as one
    Parametric Map whose frames reference the source's frames, in a series of the source's study."""
    explanation = explanations[0]
    pixels = np.stack([at_source_grid(e.maps[method], source) for e in explanations])
    targets = {e.target for e in explanations}
    target = explanation.target if len(targets) == 1 else "each frame's finding"
    name = METHOD_NAMES.get(method, method)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=method[:16], lut_explanation=f"{name} class activation for {target}"[:64],
        unit=codes.UCUM.NoUnits, value_range=(0.0, 1.0), slope=1.0, intercept=0.0,
        quantity_definition=codes.DCM.ClassActivation)
    kind = f"parametric-map/{method}"
    order = list(METHOD_NAMES).index(method) if method in METHOD_NAMES else len(METHOD_NAMES)
    result = hd.pm.ParametricMap(
        source_images=[source], pixel_array=pixels,
        series_instance_uid=provenance.result_series_uid(source, explanation, kind),
        series_number=SERIES_NUMBER + order, sop_instance_uid=provenance.result_uid(source, explanation, kind),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER,
        manufacturer_model_name=provenance.MODEL_NAME, software_versions=provenance.software_versions(explanation),
        device_serial_number=provenance.device_serial_number(explanation),
        contains_recognizable_visual_features=False, real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.content.VOILUTTransformation(window_center=0.5, window_width=1.0)],
        content_label=method.upper()[:16],
        content_description=f"medxai {name} for {target}"[:64],
        series_description=f"medxai {name}")
    provenance.describe_series(result, source, name)
    provenance.copy_laterality(provenance.stamp(result, explanation), source)
    return result
