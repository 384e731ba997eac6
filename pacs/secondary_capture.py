"""A Secondary Capture (PS3.3 A.8.1) of the fused map over the source image with the finding burnt in, for the
many viewers that cannot display a Parametric Map. Burned In Annotation is YES; it references its source image
(Source Image Sequence, PS3.3 C.7.6.1) and lies in the source's study."""

import highdicom as hd
import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset

from medxai.data.decode import MAX_PIXELS
from medxai.data.dicom import displayed
from pacs import provenance
from pacs.explanation import Explanation
from pacs.geometry import at_source_grid, patient_orientation, single_letter
from pacs.references import reference_source

SERIES_NUMBER = 9102
OPACITY = 0.4


def display_pixels(source: Dataset) -> np.ndarray:
    """The source as a viewer shows it, through the same grayscale and colour pipeline as the model's input
    (`medxai.data.dicom.displayed`: modality LUT, VOI, MONOCHROME1 inverted, palette and YBR to RGB):
    float HxWx3 in [0, 1]. Raises UserError for pixels that cannot be decoded."""
    return displayed(source, MAX_PIXELS).astype(np.float64)


def overlay(source: Dataset, saliency: np.ndarray) -> np.ndarray:
    """uint8 HxWx3: the source blended with the map in the 'jet' colour map, more opaque where the map is higher."""
    colours = colormaps["jet"](saliency)[..., :3]
    weight = OPACITY * saliency[..., None]
    return (255 * ((1 - weight) * display_pixels(source) + weight * colours)).round().astype(np.uint8)


def caption(explanation: Explanation) -> str:
    probability = explanation.probabilities[explanation.target]
    return f"AI: {explanation.target} {probability:.0%}\nmedxai {explanation.model_version}, not for diagnosis"


def burn_in(pixels: np.ndarray, text: str) -> np.ndarray:
    """The caption (one or more lines) written on a dark band at the top of the image."""
    image = Image.fromarray(pixels)
    size = max(10, image.height // 24)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, int(size * 1.3 * (text.count("\n") + 1))), fill=(0, 0, 0))
    draw.multiline_text((2, int(size * 0.2)), text, fill=(255, 255, 0), font=font, spacing=int(size * 0.2))
    return np.asarray(image)


def secondary_capture(source: Dataset, explanation: Explanation, instance_number: int) -> hd.sc.SCImage:
    """The fused map (or the last map sent) over the source, caption burnt in, in a series of the source's study."""
    method = "fusion" if "fusion" in explanation.maps else list(explanation.maps)[-1]
    pixels = burn_in(overlay(source, at_source_grid(explanation.maps[method], source)), caption(explanation))
    spacing = source.get("PixelSpacing") or source.get("ImagerPixelSpacing")
    orientation = patient_orientation(source)
    result = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=single_letter(orientation),
        series_instance_uid=provenance.result_series_uid(source, explanation, "secondary-capture"),
        series_number=SERIES_NUMBER, sop_instance_uid=provenance.result_uid(source, explanation, "secondary-capture"),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER,
        pixel_spacing=tuple(float(v) for v in spacing) if spacing else None)
    result.PatientOrientation = list(orientation)  # oblique planes too: see `geometry.single_letter`
    result.BurnedInAnnotation = "YES"
    result.ImageType = ["DERIVED", "SECONDARY"]
    result.SeriesDescription = f"medxai overlay ({explanation.model_version})"[:64]
    result.DerivationDescription = f"{method} map of {explanation.target} over the source image"[:1024]
    provenance.copy_laterality(provenance.stamp(result, explanation), source)
    return reference_source(result, source)
