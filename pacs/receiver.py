"""A DICOM Storage SCP (PS3.4 B, C-STORE) a PACS or modality forwards studies to. It answers each C-STORE as soon as
the instance is durably queued on disk; a worker thread explains the queue in arrival order and stores the results
into the PACS (`pipeline.process`). A restart resumes whatever the queue holds."""

import logging
import threading
import time
from dataclasses import dataclass

import pydicom
from pydicom.filebase import DicomBytesIO
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from medxai.errors import UserError
from pacs.dicomweb import PacsUnavailable
from pacs.explanation import ServiceUnavailable
from pacs.pipeline import Gateway, is_explainable, process
from pacs.queue import DiskQueue

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # PS3.4 Table B.2-1: Refused, out of resources
log = logging.getLogger(__name__)


@dataclass
class Receiver:
    """C-STORE SCP on (host, port) with AE title `ae_title`, feeding `queue`, worked on by one thread."""
    ae_title: str
    port: int
    queue: DiskQueue
    gateway: Gateway
    host: str = "127.0.0.1"
    poll_s: float = 0.5

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._server = None

    def _on_store(self, event) -> int:
        """Queue the instance as it arrived (Part 10 bytes, not decoded) and answer at once."""
        try:
            self.queue.put(str(event.request.AffectedSOPInstanceUID), event.encoded_dataset())
        except (OSError, ValueError):
            log.exception("cannot queue a received instance")
            return OUT_OF_RESOURCES
        return SUCCESS

    def start(self) -> "Receiver":
        ae = AE(ae_title=self.ae_title)
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(Verification)
        try:
            self._server = ae.start_server((self.host, self.port), block=False,
                                           evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        except OSError as exc:
            raise UserError(f"cannot listen for DICOM on {self.host}:{self.port}: {exc.strerror}.") from None
        self._worker = threading.Thread(target=self._work, name="pacs-queue", daemon=True)
        self._worker.start()
        return self

    def work_once(self) -> int:
        """Process every due instance once; returns how many were tried."""
        due = self.queue.due()
        for uid in due:
            if self._stop.is_set():
                break
            self._process(uid)
        return len(due)

    def _process(self, uid: str) -> None:
        audit = self.gateway.audit
        try:
            source = pydicom.dcmread(DicomBytesIO(self.queue.read(uid)))
        except Exception as exc:  # pydicom raises many types for damaged files
            self.queue.fail(uid, f"unreadable: {type(exc).__name__}")
            audit.write("failed", sop_instance_uid=uid, error="the received file cannot be read as DICOM")
            return
        if not is_explainable(source):
            self.queue.done(uid)
            audit.write("skipped", sop_instance_uid=uid, reason="not a single-frame image from another source")
            return
        try:
            process(self.gateway, source)
        except (ServiceUnavailable, PacsUnavailable) as exc:
            state = self.queue.retry_later(uid, str(exc))
            audit.write("failed" if state.get("failed") else "retry", sop_instance_uid=uid, error=str(exc),
                        attempts=state["attempts"])
            return
        except UserError as exc:
            self.queue.fail(uid, str(exc))
            audit.write("failed", sop_instance_uid=uid, error=str(exc))
            return
        self.queue.done(uid)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.work_once():
                    self._stop.wait(self.poll_s)
            except Exception:  # a bug: keep the receiver up, the instance stays queued
                log.exception("queue worker failed; retrying")
                self._stop.wait(self.poll_s * 10)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        if self._worker is not None:
            self._worker.join(timeout=60)

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C or SIGTERM turned into KeyboardInterrupt)."""
        while not self._stop.is_set():
            time.sleep(0.5)
