"""The PACS over DICOMweb (PS3.18): QIDO-RS to search, WADO-RS to retrieve, STOW-RS to store, through the
`dicomweb-client` library, with HTTP basic authentication where the PACS asks for it."""

from dataclasses import dataclass
from pathlib import Path

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from medxai.errors import UserError


class PacsUnavailable(Exception):
    """The PACS could not be reached or refused a store now; the work is retried later."""


@dataclass(frozen=True)
class DicomWebSettings:
    """The PACS's DICOMweb root (e.g. http://127.0.0.1:8042/dicom-web) and its credentials."""
    url: str
    user: str | None = None
    password_file: Path | None = None
    timeout_s: float = 60.0

    def client(self) -> DICOMwebClient:
        session = requests.Session()
        if self.user:
            if self.password_file is None or not Path(self.password_file).is_file():
                raise UserError(f"the DICOMweb user {self.user} needs a password file (--password-file).")
            session.auth = (self.user, Path(self.password_file).read_text().strip())
        client = DICOMwebClient(self.url.rstrip("/"), session=session, timeout=self.timeout_s)
        client.set_http_retry_params(retry=False)  # the receiver's queue retries, with its own back-off
        return client


def _failure(settings: DicomWebSettings, action: str, exc: Exception) -> Exception:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):  # retried by the receiver: a corrected secret resumes the queue
        return PacsUnavailable(f"the PACS at {settings.url} refused our credentials ({status}) when asked to {action}.")
    if status == 404:
        return UserError(f"the PACS at {settings.url} has nothing to {action}.")
    return PacsUnavailable(f"the PACS at {settings.url} failed to {action}: {exc}")


AS_STORED = (("application/dicom", "*"),)
"""WADO-RS media type for instances in the transfer syntax the PACS holds them in (PS3.18 8.7.3.5.2). Asked for
explicit VR little endian (dicomweb-client's default), Orthanc leaves out what it cannot transcode (JPEG-LS, RLE,
JPEG 2000, JPEG lossless were dropped without a word): medxai decodes them all itself."""


def retrieve(settings: DicomWebSettings, study_uid: str, series_uid: str | None = None) -> list[Dataset]:
    """A study's or one series' instances by WADO-RS, each in the transfer syntax it is stored in."""
    client = settings.client()
    try:
        if series_uid:
            return client.retrieve_series(study_uid, series_uid, media_types=AS_STORED)
        return client.retrieve_study(study_uid, media_types=AS_STORED)
    except (requests.RequestException, OSError) as exc:
        raise _failure(settings, f"retrieve study {study_uid}", exc) from None
    except Exception as exc:  # dicomweb-client parses each part with pydicom, which raises many types
        raise UserError(f"the PACS at {settings.url} sent a part of study {study_uid} that cannot be read as "
                        f"DICOM ({type(exc).__name__}: {exc}).") from None


def store(settings: DicomWebSettings, datasets: list[Dataset], study_uid: str) -> None:
    """Store objects into their study by STOW-RS; any instance the PACS reports as failed raises.

    Each part is sent as a Part 10 file (PS3.10 7.1: preamble, DICM, File Meta Information): dicomweb-client writes
    a dataset made in memory without its preamble, and Orthanc then stores and serves it so."""
    for dataset in datasets:
        if getattr(dataset, "preamble", None) is None:
            dataset.preamble = b"\0" * 128
    try:
        reply = settings.client().store_instances(datasets, study_instance_uid=study_uid)
    except (requests.RequestException, OSError) as exc:
        raise _failure(settings, f"store into study {study_uid}", exc) from None
    failed = reply.get("FailedSOPSequence", []) if reply is not None else []
    if failed:
        raise PacsUnavailable(f"the PACS at {settings.url} refused {len(failed)} of {len(datasets)} objects "
                              f"(failure reason {failed[0].get('FailureReason', '?')}).")


def stored(settings: DicomWebSettings, study_uid: str, sop_instance_uid: str) -> bool:
    """Whether the PACS holds this instance (QIDO-RS)."""
    try:
        found = settings.client().search_for_instances(study_instance_uid=study_uid,
                                                       search_filters={"SOPInstanceUID": sop_instance_uid})
    except (requests.RequestException, OSError) as exc:
        raise _failure(settings, f"search study {study_uid}", exc) from None
    return bool(found)
