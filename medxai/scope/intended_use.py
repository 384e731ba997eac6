"""A model's intended use: what images it was trained on, told in DICOM's terms (Modality (0008,0060), Body Part
Examined (0018,0015)) and by its pixels (grey or colour), so an image that says or shows it is something else is
refused before inference.

Some sites leave the tags empty, so the rule is a setting (`TAG_RULES`): refuse a tag that contradicts the
intended use (the default), refuse an empty one too (`strict`), or ignore the tags (`off`).
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TAG_RULES = ("contradiction", "strict", "off")
DEFAULT_TAG_RULE = "contradiction"
GREY_TOLERANCE = 0.02
"""Colourfulness (`colourfulness`: the mean over pixels of the largest minus the smallest channel, pixels in
[0, 1]) below which an image is grey. JPEG-compressed grey images stay far below it; a dermoscopy photograph or a
colour-flow ultrasound is far above it (0.1 and more). A grey model refuses colour images: on the demo model the
OOD detector alone accepted 81 % of the dermoscopy phantoms (a release gate refusal)."""


@dataclass
class IntendedUse:
    """What the model was trained on. Empty `modality`/`body_part` lists mean "not known" (no refusal by tag)."""

    modality: list[str] = field(default_factory=list)  # DICOM Modality codes, e.g. ["MR"]
    body_part: list[str] = field(default_factory=list)  # DICOM Body Part Examined, e.g. ["BRAIN"]
    colour: str = ""  # "grey" or "colour" ("" not known)
    image_size: int = 0  # the square input size trained on, px
    classes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for people: "MR BRAIN, grey, 160 px; classes glioma, meningioma, pituitary"."""
        what = " ".join(filter(None, ["/".join(self.modality), "/".join(self.body_part)])) or "images"
        parts = [what] + ([self.colour] if self.colour else []) + ([f"{self.image_size} px"] if self.image_size
                                                                   else [])
        return ", ".join(parts) + (f"; classes {', '.join(self.classes)}" if self.classes else "")

    def refusal(self, pixels=None, tags: tuple[str, str] | None = None, rule: str = DEFAULT_TAG_RULE) -> str | None:
        """Why an image is outside the intended use before inference, or None: its DICOM `tags` (Modality, Body
        Part Examined; `tag_refusal`), then its model-input `pixels` [3,S,S] in [0, 1]: a colour image for a grey
        model."""
        if tags is not None and (reason := self.tag_refusal(*tags, rule=rule)):
            return reason
        if pixels is not None and self.colour == "grey" and colourfulness(pixels) > GREY_TOLERANCE:
            return "outside the model's intended use (a colour image; the model is for grey images)"
        return None

    def tag_refusal(self, modality: str, body_part: str, rule: str = DEFAULT_TAG_RULE) -> str | None:
        """Why an image with these DICOM tag values is outside the intended use, or None. Values compare
        case-insensitively; an empty value is refused only under `strict`."""
        if rule not in TAG_RULES:
            raise ValueError(f"tag rule must be one of {', '.join(TAG_RULES)}, got '{rule}'")
        if rule == "off":
            return None
        for name, value, allowed in (("Modality", modality, self.modality),
                                     ("Body Part Examined", body_part, self.body_part)):
            if not allowed:
                continue
            value = (value or "").strip().upper()
            if not value and rule == "strict":
                return f"outside the model's intended use ({name} is empty; the model is for {'/'.join(allowed)})"
            if value and value not in {a.upper() for a in allowed}:
                return (f"outside the model's intended use ({name} {value}; the model is for "
                        f"{'/'.join(allowed)})")
        return None


def dicom_tags(sources: list[Path], limit: int = 200) -> tuple[list[str], list[str]]:
    """The Modality and Body Part Examined values found in up to `limit` DICOM files of `sources` (headers only;
    files that are not DICOM are skipped), most frequent first."""
    import pydicom
    from collections import Counter
    modality, body_part = Counter(), Counter()
    for path in [p for p in sources if isinstance(p, Path) and p.suffix.lower() in ("", ".dcm", ".dicom")][:limit]:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not DICOM after all: nothing to learn from it
            continue
        for counter, keyword in ((modality, "Modality"), (body_part, "BodyPartExamined")):
            if value := str(header.get(keyword, "") or "").strip().upper():
                counter[value] += 1
    return [v for v, _ in modality.most_common()], [v for v, _ in body_part.most_common()]


def colourfulness(pixels) -> float:
    """Mean over pixels of the largest minus the smallest channel, for an image [3,H,W] in [0, 1]: 0 for a grey
    image."""
    values = np.asarray(pixels, dtype=np.float32)
    return float((values.max(axis=0) - values.min(axis=0)).mean())


def colour_of(images: np.ndarray) -> str:
    """"grey" when every sampled image [N,3,H,W] in [0, 1] is grey (colourfulness below GREY_TOLERANCE)."""
    return "grey" if all(colourfulness(image) < GREY_TOLERANCE for image in images) else "colour"


def intended_use_of(sources: list, class_names: list[str], image_size: int, modality: str = "",
                    body_part: str = "") -> IntendedUse:
    """The intended use of a model trained on images from `sources` (paths or arrays): `modality` and
    `body_part` (comma-separated DICOM values) when given, else the values the training files' DICOM tags carry
    (none for PNG or JPEG data: no refusal by tag). Colour is measured later, from the pixels (`fit_scope`)."""
    def listed(text: str) -> list[str]:
        return [v.strip().upper() for v in text.split(",") if v.strip()]
    found_modality, found_body_part = ([], []) if modality and body_part else dicom_tags(
        [s for s in sources if isinstance(s, Path)])
    return IntendedUse(listed(modality) or found_modality, listed(body_part) or found_body_part, "", image_size,
                       list(class_names))


def tag_values(data: bytes) -> tuple[str, str] | None:
    """(Modality, Body Part Examined) of a DICOM file's bytes, None when the bytes are not DICOM."""
    import io
    import pydicom
    from medxai.data.dicom import is_dicom
    if not is_dicom(data):
        return None
    try:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    except Exception:  # a header pydicom cannot parse: the decoder gives the user the reason
        return None
    return str(header.get("Modality", "") or ""), str(header.get("BodyPartExamined", "") or "")
