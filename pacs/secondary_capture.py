"""A Secondary Capture (PS3.3 A.8.1) of the fused map over the source image with the finding burnt in, for the
many viewers that cannot display a Parametric Map. Burned In Annotation is YES; it references its source image
(Source Image Sequence, PS3.3 C.7.6.1) and lies in the source's study. The image keeps its pixels at their place
(top left); the colour bar and the caption are drawn beside and below it, never over the anatomy."""

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
OPACITY = 0.5
"""The map's opacity at its own peak; it falls to 0 at its own minimum (a weak map stays visible)."""
COLOUR_MAP = "jet"


def display_pixels(source: Dataset) -> np.ndarray:
    """The source as a viewer shows it, through the same grayscale and colour pipeline as the model's input
    (`medxai.data.dicom.displayed`: modality LUT, VOI, MONOCHROME1 inverted, palette and YBR to RGB):
    float HxWx3 in [0, 1]. Raises UserError for pixels that cannot be decoded."""
    return displayed(source, MAX_PIXELS).astype(np.float64)


def overlay(source: Dataset, saliency: np.ndarray) -> np.ndarray:
    """uint8 HxWx3: the source blended with the map, coloured by its value on the 'jet' scale of the colour bar
    (0 to 1), and opaque in proportion to where the value lies in the map's own range: a map whose peak is 0.3 is as
    visible as one whose peak is 1, in the colours that say it is weak."""
    colours = colormaps[COLOUR_MAP](saliency)[..., :3]
    low, high = float(saliency.min()), float(saliency.max())
    relative = (saliency - low) / (high - low) if high > low else np.zeros_like(saliency)
    weight = OPACITY * relative[..., None]
    return (255 * ((1 - weight) * display_pixels(source) + weight * colours)).round().astype(np.uint8)


def caption(explanation: Explanation) -> str:
    """The burnt-in text: the finding (or, outside the intended use, that there is none and why), the referral
    when the prediction set holds several classes, and the model."""
    model = f"medxai {explanation.model_version}, not for diagnosis"
    if not explanation.in_scope:
        return f"AI: not assessed\n{explanation.scope_reason}\n{model}"
    probability = explanation.probabilities[explanation.target]
    refer = f"\n{explanation.refer}" if explanation.refer else ""
    return f"AI: {explanation.target} {probability:.0%}{refer}\n{model}"


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def annotate(pixels: np.ndarray, text: str, scale_label: str | None = "map") -> np.ndarray:
    """The image with a colour bar (0 at the bottom, 1 at the top, in the overlay's colours) beside it and the
    caption in a band below it, on black: nothing is drawn over the image, whose pixels stay at (0, 0) onwards.
    The text's size follows the image's (1/24 of its shorter side, at least 10 px), and the canvas widens when the
    caption needs more room than the image gives (a 64 px image), so the caption is always whole. No colour bar
    when `scale_label` is None (no map is shown)."""
    rows, columns = pixels.shape[:2]
    size = max(10, min(rows, columns) // 24)
    font, pad = _font(size), max(2, size // 4)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_box = measure.multiline_textbbox((0, 0), text, font=font, spacing=pad)
    labels = ("1", "0", scale_label or "")
    label_width = max(measure.textbbox((0, 0), label, font=font)[2] for label in labels)
    bar = max(size, columns // 32) if scale_label is not None else 0
    width = max(columns + 3 * pad + bar + label_width, text_box[2] + 2 * pad)
    band = text_box[3] + 2 * pad
    canvas = Image.new("RGB", (width, max(rows, 3 * (size + pad)) + band), (0, 0, 0))
    canvas.paste(Image.fromarray(pixels), (0, 0))
    bar_height = max(rows, 3 * (size + pad))
    draw = ImageDraw.Draw(canvas)
    if scale_label is not None:
        ramp = np.linspace(1.0, 0.0, bar_height)[:, None].repeat(bar, axis=1)
        colours = (255 * colormaps[COLOUR_MAP](ramp)[..., :3]).round().astype(np.uint8)
        left = columns + pad
        canvas.paste(Image.fromarray(colours), (left, 0))
        draw.text((left + bar + pad, 0), "1", fill=(255, 255, 255), font=font)
        draw.text((left + bar + pad, bar_height - size - pad), "0", fill=(255, 255, 255), font=font)
        draw.text((left + bar + pad, bar_height // 2 - size // 2), scale_label, fill=(255, 255, 255), font=font)
    draw.multiline_text((pad, bar_height + pad), text, fill=(255, 255, 0), font=font, spacing=pad)
    return np.asarray(canvas)


def secondary_capture(source: Dataset, explanation: Explanation, instance_number: int,
                      frame: tuple[int, Dataset] | None = None) -> hd.sc.SCImage:
    """The fused map (or the last map sent) over the source, caption burnt in, in a series of the source's study;
    for a source outside the model's intended use, the source alone with "not assessed" and the reason.
    `frame`: (frame number from 1, that frame as a single-frame image: `frames.frame_image`) for a multi-frame
    source, whose capture is drawn on that frame and references it by Referenced Frame Number."""
    shown = frame[1] if frame else source
    if explanation.in_scope:
        method = "fusion" if "fusion" in explanation.maps else list(explanation.maps)[-1]
        pixels = annotate(overlay(shown, at_source_grid(explanation.maps[method], shown)), caption(explanation),
                          "fused" if method == "fusion" else method)
        derivation = f"{method} map of {explanation.target} over the source image"
    else:  # outside the intended use: the image as a viewer shows it, no map, the reason where a finding would be
        pixels = annotate((255 * display_pixels(shown)).round().astype(np.uint8), caption(explanation), None)
        derivation = "not assessed: outside the model's intended use"
    spacing = shown.get("PixelSpacing") or shown.get("ImagerPixelSpacing")
    orientation = patient_orientation(shown)
    result = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=shown, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=single_letter(orientation),
        series_instance_uid=provenance.result_series_uid(source, explanation, "secondary-capture"),
        series_number=SERIES_NUMBER, sop_instance_uid=provenance.result_uid(shown, explanation, "secondary-capture"),
        instance_number=instance_number, manufacturer=provenance.MANUFACTURER,
        pixel_spacing=tuple(float(v) for v in spacing) if spacing else None)
    result.PatientOrientation = list(orientation)  # oblique planes too: see `geometry.single_letter`
    result.BurnedInAnnotation = "YES"
    result.ImageType = ["DERIVED", "SECONDARY"]
    provenance.describe_series(result, source, "overlay")
    result.DerivationDescription = derivation[:1024]
    provenance.copy_laterality(provenance.stamp(result, explanation), source)
    return reference_source(result, source, frame[0] if frame else None)
