"""One source instance through the gateway: ask the service which model version explains it, skip it if that
version's report is already in the PACS (idempotent), explain it, write the results, store them by STOW-RS into
the source's study, and write an audit line."""

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite

from medxai.data.frames import frame_count, frame_images
from medxai.errors import UserError
from pacs import provenance
from pacs.audit import AuditLog
from pacs.dicomweb import DicomWebSettings, PacsUnavailable, store, stored
from pacs.explanation import ServiceSettings, ServiceUnavailable, explain_dicom, served_model
from pacs.release_gate import sanity_check
from pacs.results import result_objects

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gateway:
    """Where explanations come from, where results go, where the audit trail is written, and (optional) Triton's
    model repository, whose release records say whether the served version passed the sanity check."""
    service: ServiceSettings
    pacs: DicomWebSettings
    audit: AuditLog
    model_repository: Path | None = None
    max_frames: int = 16
    """The most frames of a multi-frame image explained (one service request each); more: refused, with why."""


REQUIRED = {"SOPClassUID": "(0008,0016) SOP Class UID", "SOPInstanceUID": "(0008,0018) SOP Instance UID",
            "StudyInstanceUID": "(0020,000D) Study Instance UID", "SeriesInstanceUID": "(0020,000E) Series Instance UID",
            "Modality": "(0008,0060) Modality", "Rows": "(0028,0010) Rows", "Columns": "(0028,0011) Columns"}
"""Type 1 attributes (SOP Common, General Study, General Series, Image Pixel: PS3.3 C.12.1, C.7.2.1, C.7.3.1,
C.7.6.3) that the results need: they are written into the source's study and series references."""
DERIVED_MODALITIES = {"SEG": "a segmentation", "RTSTRUCT": "an RT structure set", "RTDOSE": "an RT dose",
                      "RTPLAN": "an RT plan", "REG": "a registration", "PR": "a presentation state",
                      "KO": "a key object selection", "SR": "a structured report", "DOC": "a document",
                      "PLAN": "a plan", "RWV": "real world value map"}
"""Modalities (PS3.3 C.7.3.1.1.1) of objects derived from or about images, not images acquired of a patient."""


PIXEL_DATA = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
"""The three pixel data elements (PS3.3 C.7.6.3); float ones hold maps (Parametric Map), not acquired images."""


def refusal(source: Dataset, max_frames: int = 16) -> str | None:
    """Why `source` cannot be explained, in one sentence for the audit trail and the worklist, or None when it can:
    not an image, written by medxai itself, derived (a segmentation, a dose), without an attribute the results
    need, or more than `max_frames` frames. Only reads attributes, never pixels: a damaged element gives a reason
    too."""
    try:
        if source.get("Manufacturer") == provenance.MANUFACTURER:
            return "written by medxai itself (a result, not a source)"
        if not any(keyword in source for keyword in PIXEL_DATA):
            return f"not an image: {_sop_class_name(source)} without pixel data"
        if "PixelData" not in source:
            return f"{_sop_class_name(source)}: float pixel data, not an image to diagnose"
        modality = str(source.get("Modality") or "").strip().upper()
        if modality in DERIVED_MODALITIES:
            return f"Modality {modality}: {DERIVED_MODALITIES[modality]}, not an image acquired of a patient"
        if missing := [name for keyword, name in REQUIRED.items() if source.get(keyword) in (None, "")]:
            return f"the instance lacks {', '.join(missing)}, required (Type 1) by the standard"
        frames = frame_count(source)
        if frames > max_frames:
            return (f"a multi-frame image of {frames} frames, over the limit of {max_frames} frames explained per "
                    f"image (--max-frames)")
    except Exception as exc:  # a damaged element raises when it is read (pydicom converts values lazily)
        return f"a damaged attribute: {type(exc).__name__}: {exc}"
    return None


def is_source_image(source: Dataset) -> bool:
    """An image (pixel data) that medxai did not write: one a person expects to see explained or refused."""
    return any(keyword in source for keyword in PIXEL_DATA) and source.get("Manufacturer") != provenance.MANUFACTURER


def _sop_class_name(source: Dataset) -> str:
    uid = source.get("SOPClassUID")
    return f"{uid.name}" if uid is not None and hasattr(uid, "name") else "an object"


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
    frames = frame_images(source) if frame_count(source) > 1 else None
    explanations = [explain_dicom(gateway.service, encoded(image), version=model.model_version)
                    for image in (frames or [source])]
    explanation = explanations[0]
    sanity = sanity_check(gateway.model_repository, explanation.model_name, explanation.model_version)
    results = result_objects(source, explanations, sanity, frames)
    store(gateway.pacs, results, names["study_uid"])
    per_frame = {"frames": len(frames), "findings": [e.predicted for e in explanations]} if frames else {}
    outside = [e for e in explanations if not e.in_scope]
    if outside:  # results were written (a report and a capture that say why): the audit says what they say
        return gateway.audit.write(
            "out-of-scope", **names, **identity, request_id=explanation.request_id, reason=outside[0].scope_reason,
            intended_use=explanation.intended_use, **per_frame,
            results=[{"sop_class_uid": str(r.SOPClassUID), "sop_instance_uid": str(r.SOPInstanceUID)}
                     for r in results], seconds=round(time.perf_counter() - start, 3))
    return gateway.audit.write(
        "explained", **names, **identity, request_id=explanation.request_id, finding=explanation.predicted,
        prediction_set=explanation.prediction_set,
        sanity_check_passed=sanity, **per_frame,
        results=[{"sop_class_uid": str(r.SOPClassUID), "sop_instance_uid": str(r.SOPInstanceUID)} for r in results],
        seconds=round(time.perf_counter() - start, 3))


def handle(gateway: Gateway, source: Dataset) -> dict:
    """One instance to its outcome, as an audit line: 'explained' or 'already-explained'; 'not-explained' with the
    reason (`refusal`), 'set_aside' true for a source image a person should look at; or 'failed' with the error,
    whatever the results' writers or the service raised about this instance. Raises ServiceUnavailable or
    PacsUnavailable only: faults of the service or the PACS, not of the instance, worth trying again later."""
    uid = str(source.get("SOPInstanceUID", "") or "")
    if (reason := refusal(source, gateway.max_frames)) is not None:
        image = is_source_image(source)
        (log.warning if image else log.info)("not explained %s: %s", uid, reason)
        return gateway.audit.write("not-explained", sop_instance_uid=uid, reason=reason, set_aside=image)
    try:
        return process(gateway, source)
    except (ServiceUnavailable, PacsUnavailable):
        raise
    except UserError as exc:
        error = str(exc)
    except Exception as exc:  # a source the writers cannot handle: this instance fails, the next goes on
        log.exception("explaining %s failed", uid)
        error = f"{type(exc).__name__}: {exc}"
    log.warning("failed %s: %s", uid, error)
    return gateway.audit.write("failed", sop_instance_uid=uid, error=error)
