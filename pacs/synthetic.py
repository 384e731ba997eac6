"""Synthetic DICOM studies from phantom pixels, for tests and the demo: no patient data, made-up identifiers.

CT and MR images carry plane geometry (Frame of Reference, Image Plane module, PS3.3 C.7.6.2); CR images,
like real projection radiographs, carry none (PS3.3 C.8.1), so both paths of the result writer are exercised.
"""

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SOP_CLASSES = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4", "CR": "1.2.840.10008.5.1.4.1.1.1"}
"""CT Image, MR Image and Computed Radiography Image Storage (PS3.4 B.5)."""
WITH_GEOMETRY = ("CT", "MR")


def synthetic_study(images: Sequence[np.ndarray], modalities: Sequence[str], patient_id: str = "PHANTOM-0001",
                    pixel_spacing_mm: float = 0.5) -> list[Dataset]:
    """One study: a series per modality, image i (HxW in [0, 1]) in the series of `modalities[i]`.

    Pixels are stored as 12-bit unsigned MONOCHROME2 with a window over the full range.
    """
    if len(images) != len(modalities):
        raise ValueError("one modality per image")
    study_uid, now = generate_uid(), datetime.now()
    series: dict[str, tuple[str, str]] = {m: (generate_uid(), generate_uid()) for m in dict.fromkeys(modalities)}
    datasets = []
    for index, (pixels, modality) in enumerate(zip(images, modalities)):
        series_uid, frame_of_reference_uid = series[modality]
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
        ds.SOPClassUID = SOP_CLASSES[modality]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Phantom^Synthetic", patient_id, "", "O"
        ds.StudyInstanceUID, ds.StudyID, ds.AccessionNumber = study_uid, "1", ""
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.ReferringPhysicianName, ds.StudyDescription = "", "medxai synthetic phantom study"
        ds.Modality, ds.SeriesInstanceUID = modality, series_uid
        ds.SeriesNumber, ds.InstanceNumber = list(series).index(modality) + 1, index + 1
        ds.Manufacturer = "medxai phantom"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL" if modality == "CT" else "OTHER"]
        if modality == "CR":
            ds.BodyPartExamined, ds.ViewPosition, ds.PatientOrientation = "CHEST", "PA", ["L", "F"]
            ds.ImagerPixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
        else:
            ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_of_reference_uid, ""
            ds.PixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
            ds.SliceThickness = 1.0
            ds.ImagePositionPatient = [0.0, 0.0, float(index)]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ds.PatientPosition, ds.Laterality = "HFS", ""  # type 2C in General Series
        if modality == "CT":
            ds.KVP, ds.AcquisitionNumber = "", 1
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        if modality == "MR":
            ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions, ds.MRAcquisitionType = "SE", "NONE", "", "2D"
            ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength, ds.MagneticFieldStrength = 500, 20, 1, 1.5
            ds.ImagingFrequency, ds.ImagedNucleus, ds.NumberOfAverages = 63.9, "1H", 1
        values = np.round(np.clip(pixels, 0, 1) * 4095).astype(np.uint16)
        ds.Rows, ds.Columns = values.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        center = 2048 - 1024 if modality == "CT" else 2048
        ds.WindowCenter, ds.WindowWidth = center, 4096
        ds.PixelData = values.tobytes()
        datasets.append(ds)
    return datasets
