"""A DICOM Storage SCP (PS3.4 B, C-STORE) a PACS or modality forwards studies to. It answers each C-STORE as soon as
the instance is durably queued on disk; a worker thread explains the queue in arrival order and stores the results
into the PACS (`pipeline.process`). A restart resumes whatever the queue holds.

At association it accepts every Storage SOP Class in every transfer syntax pynetdicom knows (uncompressed, deflated,
JPEG baseline, extended and lossless, JPEG-LS, JPEG 2000, RLE, ...: what modalities and archives send), refuses a
called AE title other than ours and, when a list is given, a calling AE title not on it; given a certificate and key
it speaks DICOM over TLS 1.2 or newer and checks the sender's certificate against a CA (PS3.15 B.1, IHE ATNA
secure node)."""

import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.filebase import DicomBytesIO
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from medxai.errors import UserError
from pacs.dicomweb import PacsUnavailable
from pacs.explanation import ServiceUnavailable
from pacs.metrics import GatewayMetrics
from pacs.pipeline import Gateway, handle
from pacs.queue import DiskQueue

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # PS3.4 Table B.2-1: Refused, out of resources
log = logging.getLogger(__name__)


def tls_context(certificate: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """A server context for DICOM over TLS: our certificate and key (PEM), TLS 1.2 or newer, and the peer's
    certificate required and checked against `client_ca` (PS3.15 B.1: both nodes authenticate). Raises UserError
    for a file that is missing or not a certificate or key."""
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
        context.load_cert_chain(str(certificate), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise UserError(f"cannot set up DICOM over TLS with {certificate}, {key} and {client_ca}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass
class Receiver:
    """C-STORE SCP on (host, port) with AE title `ae_title`, feeding `queue`, worked on by one thread.
    `calling_ae_titles`: the only senders accepted (empty: any); `tls`: a server context (`tls_context`)."""
    ae_title: str
    port: int
    queue: DiskQueue
    gateway: Gateway
    host: str = "127.0.0.1"
    poll_s: float = 0.5
    calling_ae_titles: tuple[str, ...] = field(default_factory=tuple)
    metrics: GatewayMetrics | None = None  # per-sender outcome counters (`pacs.metrics`)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._server = None

    def _on_store(self, event) -> int:
        """Queue the instance as it arrived (Part 10 bytes, not decoded) and answer at once."""
        try:
            self.queue.put(str(event.request.AffectedSOPInstanceUID), event.encoded_dataset(),
                           str(event.assoc.requestor.ae_title).strip())
        except (OSError, ValueError):
            log.exception("cannot queue a received instance")
            return OUT_OF_RESOURCES
        return SUCCESS

    def start(self) -> "Receiver":
        ae = AE(ae_title=self.ae_title)
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.require_called_aet = True  # PS3.8 9.3.3.2: called AE title not recognised
        ae.require_calling_aet = list(self.calling_ae_titles)
        try:
            self._server = ae.start_server((self.host, self.port), block=False, ssl_context=self.tls,
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
        """One queued instance to its end (`pipeline.handle`): done when explained or not an image to explain;
        set aside in `failed/` with the reason when it failed or is an image that cannot be explained; tried again
        after the back-off when the service or the PACS is unavailable. Nothing one instance does holds up the
        next."""
        audit = self.gateway.audit
        caller = self.queue.state(uid).get("calling_ae_title", "")

        def count(outcome: str) -> None:
            if self.metrics is not None:
                self.metrics.finished(caller, outcome)
        try:
            source = pydicom.dcmread(DicomBytesIO(self.queue.read(uid)))
        except Exception as exc:  # pydicom raises many types for damaged files
            reason = f"the received file cannot be read as DICOM ({type(exc).__name__}: {exc})"
            self.queue.fail(uid, reason)
            audit.write("failed", sop_instance_uid=uid, error=reason)
            log.warning("failed %s: %s", uid, reason)
            count("failed")
            return
        try:
            line = handle(self.gateway, source)
        except (ServiceUnavailable, PacsUnavailable) as exc:
            state = self.queue.retry_later(uid, str(exc))
            audit.write("failed" if state.get("failed") else "retry", sop_instance_uid=uid, error=str(exc),
                        attempts=state["attempts"])
            count("failed" if state.get("failed") else "retry")
            return
        count(line["outcome"])
        if line["outcome"] == "failed" or line.get("set_aside"):
            self.queue.fail(uid, line.get("error") or line["reason"])
        else:
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
