"""What every object medxai writes into a PACS says about where it came from (PS3.3 C.7.5.1 General Equipment):
Manufacturer, model name and Software Versions naming medxai, the model version and the checkpoint's SHA-256; and
its UIDs, derived from (source instance, model version, checkpoint, kind) so that explaining the same instance
with the same model twice writes the same objects again instead of new ones (idempotent STOW-RS).
"""

import datetime
from importlib.metadata import PackageNotFoundError, version

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from pacs.explanation import Model

MANUFACTURER = "medxai"
MODEL_NAME = "medxai explanation"
PATIENT_ATTRIBUTES = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                      "PatientAge", "PatientWeight", "PatientSize", "OtherPatientIDsSequence", "EthnicGroup",
                      "PatientComments", "PatientIdentityRemoved")
"""Patient and patient-study attributes (PS3.3 C.7.1.1, C.7.2.2) checked against the source."""


def medxai_version() -> str:
    try:
        return version("medxai")
    except PackageNotFoundError:
        return "unknown"


def software_versions(model: Model) -> list[str]:
    """Software Versions (0018,1020), each value an LO of at most 64 characters: medxai, the checkpoint's SHA-256
    (64 hexadecimal digits) and the model version. The digest is not last: an odd total length is padded with a
    space after the last value, which readers such as pydicom then count against its 64 characters."""
    return [f"medxai {medxai_version()}"[:64], model.checkpoint_sha256[:64],
            f"{model.model_name} {model.model_version}"[:64]]


def device_serial_number(model: Model) -> str:
    """Device Serial Number (0018,1000): the model version, which identifies the served weights."""
    return f"{model.model_name}-{model.model_version}"[:64]


def result_uid(source: Dataset, model: Model, kind: str) -> str:
    """The same UID for the same source instance, model version, checkpoint and result kind."""
    return generate_uid(entropy_srcs=[str(source.SOPInstanceUID), model.model_name, model.model_version,
                                      model.checkpoint_sha256, kind])


def result_series_uid(source: Dataset, model: Model, kind: str) -> str:
    """One series per (source series, model version, result kind): results of a series gather in one series."""
    return generate_uid(entropy_srcs=[str(source.SeriesInstanceUID), model.model_name,
                                      model.model_version, model.checkpoint_sha256, kind, "series"])


def stamp(result: Dataset, model: Model) -> Dataset:
    """Set the General Equipment attributes (PS3.3 C.7.5.1) on a result (in place) and return it."""
    result.Manufacturer = MANUFACTURER
    result.ManufacturerModelName = MODEL_NAME
    result.SoftwareVersions = software_versions(model)
    result.DeviceSerialNumber = device_serial_number(model)
    return result


def describe_series(result: Dataset, source: Dataset, what: str) -> Dataset:
    """Name the result's series after what it holds and the series it was made from, so that a worklist tells
    the results of several source series apart ('medxai overlay: T2 AX', 'medxai Fused map: series 3'), and date
    it (Series Date and Time, PS3.3 C.7.3.1: from the result's content date and time, else now), so that PACS
    browsers do not list it under an unknown date. In place; returns `result`."""
    name = str(source.get("SeriesDescription") or "").strip()
    if not name:
        number = source.get("SeriesNumber")
        name = f"series {number}" if number not in (None, "") else str(source.get("Modality") or "source").strip()
    result.SeriesDescription = f"medxai {what}: {name}"[:64]
    now = datetime.datetime.now()
    result.SeriesDate = result.get("ContentDate") or now.strftime("%Y%m%d")
    result.SeriesTime = result.get("ContentTime") or now.strftime("%H%M%S")
    return result


def copy_laterality(result: Dataset, source: Dataset) -> Dataset:
    """An image result's Body Part Examined and Laterality from its source (General Series, PS3.3 C.7.3.1:
    Laterality is type 2C, present and empty when unknown, unless a body part says it is unpaired)."""
    if source.get("BodyPartExamined"):
        result.BodyPartExamined = source.BodyPartExamined
    if "Laterality" in source or not source.get("BodyPartExamined"):
        result.Laterality = source.get("Laterality", "")
    return result


def added_patient_values(source: Dataset, result: Dataset) -> list[str]:
    """Patient attributes that hold a value in the result but not the same value in the source (should be none)."""
    return [name for name in PATIENT_ATTRIBUTES
            if result.get(name, None) not in (None, "") and result.get(name) != source.get(name, None)]
