"""A Parametric Map (PS3.3 A.75) of one explanation map: float pixels, quantity Class activation (DCM 130402),
at the source image's geometry, derived from it (Derivation Image / Source Image sequences, same Frame of
Reference). Written only for sources with plane geometry (see `geometry.has_plane_geometry`)."""

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from pacs import provenance
from pacs.explanation import Explanation
from pacs.geometry import at_source_grid

SERIES_NUMBER = 9101
METHOD_NAMES = {"cam": "Class-activation map", "gradcam": "Grad-CAM", "ig": "Integrated Gradients", "lime": "LIME",
                "fusion": "Fused map"}


def parametric_map(source: Dataset, explanation: Explanation, method: str, instance_number: int) -> hd.pm.ParametricMap:
    """The `method` map of `explanation` as a Parametric Map in a series of the source's study."""
    pixels = at_source_grid(explanation.maps[method], source)
    name = METHOD_NAMES.get(method, method)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=method[:16], lut_explanation=f"{name} class activation for {explanation.target}"[:64],
        unit=codes.UCUM.NoUnits, value_range=(0.0, 1.0), slope=1.0, intercept=0.0,
        quantity_definition=codes.DCM.ClassActivation)
    kind = f"parametric-map/{method}"
    result = hd.pm.ParametricMap(
        source_images=[source], pixel_array=pixels[None, :, :],
        series_instance_uid=provenance.result_series_uid(source, explanation, "parametric-map"),
        series_number=SERIES_NUMBER, sop_instance_uid=provenance.result_uid(source, explanation, kind),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER,
        manufacturer_model_name=provenance.MODEL_NAME, software_versions=provenance.software_versions(explanation),
        device_serial_number=provenance.device_serial_number(explanation),
        contains_recognizable_visual_features=False, real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.content.VOILUTTransformation(window_center=0.5, window_width=1.0)],
        content_label=method.upper()[:16],
        content_description=f"medxai {name} for {explanation.target}"[:64],
        series_description=f"medxai class activation maps ({explanation.model_version})"[:64])
    provenance.copy_laterality(provenance.stamp(result, explanation), source)
    return result
