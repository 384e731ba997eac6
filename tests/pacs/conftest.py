"""A real PACS for the gateway tests: Debian's Orthanc with DICOMweb on free loopback ports (skipped, with the
reason, only where the Debian packages are absent), plus the service tests' real Triton and explain service."""

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from medxai.triton_server import free_port
from pacs import orthanc
from pacs.dicomweb import DicomWebSettings
from pacs.orthanc import OrthancServer
from pacs.synthetic import synthetic_study
from tests.explain_service.conftest import (held_out, in_scope, make_service, repository, service,  # noqa: F401
                                            triton)


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory) -> Iterator[OrthancServer]:
    if (reason := orthanc.missing()) is not None:
        pytest.skip(reason)
    with OrthancServer(tmp_path_factory.mktemp("orthanc"), free_port(), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def pacs_settings(orthanc_server) -> DicomWebSettings:
    return DicomWebSettings(orthanc_server.dicomweb_url, orthanc.USER, orthanc_server.workdir / orthanc.PASSWORD_FILE)


def phantom_study(cases: list[tuple[bytes, np.ndarray, str]], modalities: list[str], first: int = 0) -> list[Dataset]:
    """Held-out phantoms (`held_out`: 64 px PNGs) as a new synthetic study, one image per modality."""
    images = [np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255
              for png, _, _ in cases[first:first + len(modalities)]]
    return synthetic_study(images, modalities)

