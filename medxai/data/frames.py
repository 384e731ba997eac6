"""Multi-frame images (enhanced CT and MR, ultrasound cine loops, multi-frame captures) as one single-frame image
per frame, which every front end reads as it reads any image (`medxai predict` answers per frame; the PACS gateway
sends each frame to the explain service).

Each frame keeps what a viewer applies to it: the per-frame or shared functional groups of enhanced objects
(PS3.3 C.7.6.16: Pixel Measures, Plane Position and Orientation, Pixel Value Transformation, Frame VOI LUT)
become the single-frame attributes they stand for (Pixel Spacing, Image Position and Orientation (Patient),
Rescale, Window), and the frame's pixels are decoded once (any transfer syntax pydicom decodes) and written
uncompressed. pydicom has no frame extractor and highdicom none for arbitrary images: written here."""

import copy

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medxai.data.dicom import decoded_pixels

FUNCTIONAL_GROUPS = {
    "PixelMeasuresSequence": ("PixelSpacing", "SliceThickness"),
    "PlanePositionSequence": ("ImagePositionPatient",),
    "PlaneOrientationSequence": ("ImageOrientationPatient",),
    "PixelValueTransformationSequence": ("RescaleIntercept", "RescaleSlope", "RescaleType"),
    "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "VOILUTFunction"),
}
"""Functional group macros (PS3.3 C.7.6.16.2) -> the single-frame attributes each holds."""
MULTI_FRAME_ONLY = ("NumberOfFrames", "FrameIncrementPointer", "FrameTime", "FrameTimeVector",
                    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "PixelData",
                    "FloatPixelData", "DoubleFloatPixelData", "ExtendedOffsetTable", "ExtendedOffsetTableLengths")


def frame_count(source: Dataset) -> int:
    """Number of Frames (0028,0008), 1 when absent."""
    return int(source.get("NumberOfFrames") or 1)


def functional_attributes(source: Dataset, index: int) -> dict[str, object]:
    """The single-frame attributes that frame `index` (0-based) gets from the shared functional groups, overridden
    by its own per-frame ones."""
    found: dict[str, object] = {}
    groups = [source.get("SharedFunctionalGroupsSequence"), source.get("PerFrameFunctionalGroupsSequence")]
    for sequence, position in zip(groups, (0, index)):
        if not sequence or position >= len(sequence):
            continue
        for macro, keywords in FUNCTIONAL_GROUPS.items():
            for item in sequence[position].get(macro) or []:
                found.update({keyword: item.get(keyword) for keyword in keywords if item.get(keyword) is not None})
    return found


def frame_image(source: Dataset, index: int, pixels: np.ndarray) -> Dataset:
    """Frame `index` (0-based) of `source` as a single-frame image in explicit VR little endian, `pixels` being
    that frame as pydicom decodes it (HxW, or HxWx3 RGB: YBR arrives converted). A new SOP Instance UID (the frame
    is not the source instance); the source's identity attributes, its plane and value transformations kept."""
    frame = Dataset()
    for element in source:
        if element.keyword not in MULTI_FRAME_ONLY:
            frame.add(copy.deepcopy(element))
    for keyword, value in functional_attributes(source, index).items():
        setattr(frame, keyword, value)
    pixels = np.ascontiguousarray(pixels)
    colour = pixels.ndim == 3
    if colour and str(source.get("PhotometricInterpretation", "")).startswith("YBR"):
        frame.PhotometricInterpretation = "RGB"  # pydicom converted it
    if colour:
        frame.SamplesPerPixel, frame.PlanarConfiguration = 3, 0
    frame.Rows, frame.Columns = pixels.shape[:2]
    frame.BitsAllocated = pixels.dtype.itemsize * 8
    frame.BitsStored = min(int(source.get("BitsStored") or frame.BitsAllocated), frame.BitsAllocated)
    frame.HighBit = frame.BitsStored - 1
    frame.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    frame.PixelData = pixels.tobytes()
    frame.SOPInstanceUID = generate_uid(entropy_srcs=[str(source.get("SOPInstanceUID", "")), str(index)])
    frame.file_meta = FileMetaDataset()
    frame.file_meta.MediaStorageSOPClassUID = source.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")
    frame.file_meta.MediaStorageSOPInstanceUID = frame.SOPInstanceUID
    frame.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return frame


def frame_images(source: Dataset) -> list[Dataset]:
    """Every frame of `source` as a single-frame image (`frame_image`), in frame order; decodes once."""
    decoded = decoded_pixels(source)
    frames = frame_count(source)
    samples = int(source.get("SamplesPerPixel") or 1)
    if frames == 1:
        decoded = decoded[None]
    if decoded.shape[0] != frames or (samples == 1 and decoded.ndim != 3):
        raise ValueError(f"decoded {decoded.shape} for {frames} frames of {samples} samples")
    return [frame_image(source, index, decoded[index]) for index in range(frames)]
