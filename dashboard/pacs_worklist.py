"""A PACS worklist: studies (QIDO-RS), then their images, an image's pixels (WADO-RS), and the results medxai
already stored for it (its Comprehensive SR's class probabilities and its Secondary Capture overlay); with the PACS
gateway's audit trail, the images it did not explain and why ("not explained: a multi-frame image ...")."""

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from dashboard.settings import DashboardSettings
from pacs.audit import AuditLog
from pacs.dicomweb import AS_STORED, DicomWebSettings, PacsUnavailable
from pacs.pipeline import encoded
from pacs.provenance import MANUFACTURER
from pacs.structured_report import read_probabilities
from medxai.errors import UserError

MANUFACTURER_TAG = "00080070"


def _value(item: dict, tag: str, default: str = "") -> str:
    values = item.get(tag, {}).get("Value", [default])
    value = values[0] if values else default
    return value.get("Alphabetic", "") if isinstance(value, dict) else str(value)


@dataclass(frozen=True)
class StudyItem:
    study_uid: str
    date: str
    description: str
    modalities: str

    @property
    def title(self) -> str:
        return f"{self.date or 'no date'} · {self.modalities or '?'} · {self.description} · {self.study_uid}"


@dataclass(frozen=True)
class ImageItem:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    modality: str
    number: str
    not_explained: str | None = None
    """Why the PACS gateway did not explain it, from its audit trail (None: explained, pending or not known)."""

    @property
    def title(self) -> str:
        title = f"{self.modality} image {self.number or '?'} · {self.sop_instance_uid}"
        return title + (f" · not explained: {self.not_explained}" if self.not_explained else "")


@dataclass
class StoredResults:
    """What medxai stored in the PACS for one image (none of it when not yet explained)."""
    probabilities: dict[str, float]
    overlay: np.ndarray | None
    software_versions: list[str]


def dicomweb(settings: DashboardSettings) -> DicomWebSettings:
    return DicomWebSettings(settings.pacs, settings.pacs_user, settings.pacs_password_file)


def _call(settings: DashboardSettings, action):
    try:
        return action(dicomweb(settings).client())
    except PacsUnavailable as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:  # requests and dicomweb-client raise many types
        raise UserError(f"the PACS at {settings.pacs} failed: {type(exc).__name__}: {exc}") from None


def studies(settings: DashboardSettings, limit: int = 200) -> list[StudyItem]:
    """The PACS's studies, newest first."""
    found = _call(settings, lambda client: client.search_for_studies(
        limit=limit, fields=["StudyDate", "StudyDescription", "ModalitiesInStudy"]))
    items = [StudyItem(_value(s, "0020000D"), _value(s, "00080020"), _value(s, "00081030"),
                       "/".join(s.get("00080061", {}).get("Value", []))) for s in found]
    return sorted(items, key=lambda item: item.date, reverse=True)


def images(settings: DashboardSettings, study_uid: str) -> list[ImageItem]:
    """A study's images, without the objects medxai wrote into it."""
    found = _call(settings, lambda client: client.search_for_instances(
        study_instance_uid=study_uid, fields=["Modality", "InstanceNumber", "Manufacturer", "Rows"]))
    refused = not_explained(settings)
    return [ImageItem(study_uid, _value(i, "0020000E"), _value(i, "00080018"), _value(i, "00080060"),
                      _value(i, "00200013"), refused.get(_value(i, "00080018")))
            for i in found if _value(i, MANUFACTURER_TAG) != MANUFACTURER and _value(i, "00080060") != "SR"]


def not_explained(settings: DashboardSettings) -> dict[str, str]:
    """SOP Instance UID -> why the gateway did not explain it, for each instance whose last audit line is
    'not-explained' or 'failed' (empty without an audit trail, or when it cannot be read)."""
    if settings.pacs_audit_log is None:
        return {}
    try:
        lines = AuditLog(settings.pacs_audit_log).lines()
    except (OSError, ValueError):
        return {}
    last = {line.get("sop_instance_uid"): line for line in lines}
    return {uid: str(line.get("reason") or line.get("error") or "no reason recorded")
            for uid, line in last.items() if line.get("outcome") in ("not-explained", "failed")}


def image_bytes(settings: DashboardSettings, image: ImageItem) -> bytes:
    """The image as a DICOM file (WADO-RS), as the explain service takes it."""
    return encoded(_call(settings, lambda client: client.retrieve_instance(
        image.study_uid, image.series_uid, image.sop_instance_uid, media_types=AS_STORED)))


def _references(result: Dataset, sop_instance_uid: str) -> bool:
    for element in result.iterall():
        if element.keyword == "ReferencedSOPInstanceUID" and element.value == sop_instance_uid:
            return True
    return False


def stored_results(settings: DashboardSettings, image: ImageItem) -> StoredResults | None:
    """The newest report and overlay medxai stored for the image, or None."""
    found = _call(settings, lambda client: client.search_for_instances(
        study_instance_uid=image.study_uid, fields=["Manufacturer", "Modality"]))
    ours = [i for i in found if _value(i, MANUFACTURER_TAG) == MANUFACTURER and _value(i, "00080060") in ("SR", "OT")]
    results = [_call(settings, lambda client, i=i: client.retrieve_instance(
        image.study_uid, _value(i, "0020000E"), _value(i, "00080018"))) for i in ours]
    results = [r for r in results if _references(r, image.sop_instance_uid)]
    reports = [r for r in results if r.Modality == "SR"]
    if not reports:
        return None
    report = max(reports, key=lambda r: (str(r.get("ContentDate", "")), str(r.get("ContentTime", ""))))
    captures = [r for r in results if r.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"]
    return StoredResults(read_probabilities(report), captures[-1].pixel_array if captures else None,
                         [str(v) for v in report.get("SoftwareVersions", [])])
