"""One source instance through the gateway: ask the service which model version explains it, skip it if that
version's report is already in the PACS (idempotent), explain it, write the results, store them by STOW-RS into
the source's study, and write an audit line."""

import io
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite

from pacs import provenance
from pacs.audit import AuditLog
from pacs.dicomweb import DicomWebSettings, store, stored
from pacs.explanation import ServiceSettings, explain_dicom, served_model
from pacs.release_gate import sanity_check
from pacs.results import result_objects


@dataclass(frozen=True)
class Gateway:
    """Where explanations come from, where results go, where the audit trail is written, and (optional) Triton's
    model repository, whose release records say whether the served version passed the sanity check."""
    service: ServiceSettings
    pacs: DicomWebSettings
    audit: AuditLog
    model_repository: Path | None = None


def is_explainable(source: Dataset) -> bool:
    """A single-frame image that medxai did not write itself."""
    return ("PixelData" in source and int(source.get("NumberOfFrames") or 1) == 1
            and source.get("Manufacturer") != provenance.MANUFACTURER)


def encoded(source: Dataset) -> bytes:
    """The instance as a DICOM Part 10 file, as the explain service takes it."""
    buffer = io.BytesIO()
    dcmwrite(buffer, source, enforce_file_format=True)
    return buffer.getvalue()


def process(gateway: Gateway, source: Dataset) -> dict:
    """Explain one instance and store its results; returns the audit line. Raises ServiceUnavailable or
    PacsUnavailable when the work should be retried later, UserError when it never can succeed."""
    start = time.perf_counter()
    names = {"study_uid": str(source.StudyInstanceUID), "series_uid": str(source.SeriesInstanceUID),
             "sop_instance_uid": str(source.SOPInstanceUID)}
    model = served_model(gateway.service)
    identity = {"model": model.model_name, "model_version": model.model_version,
                "checkpoint_sha256": model.checkpoint_sha256}
    report_uid = provenance.result_uid(source, model, "structured-report")
    if stored(gateway.pacs, names["study_uid"], report_uid):
        return gateway.audit.write("already-explained", **names, **identity, report_uid=report_uid)
    explanation = explain_dicom(gateway.service, encoded(source), version=model.model_version)
    sanity = sanity_check(gateway.model_repository, explanation.model_name, explanation.model_version)
    results = result_objects(source, explanation, sanity)
    store(gateway.pacs, results, names["study_uid"])
    return gateway.audit.write(
        "explained", **names, **identity, request_id=explanation.request_id, finding=explanation.predicted, sanity_check_passed=sanity,
        results=[{"sop_class_uid": str(r.SOPClassUID), "sop_instance_uid": str(r.SOPInstanceUID)} for r in results],
        seconds=round(time.perf_counter() - start, 3))
