"""Who may send, and in what: the receiver's association policy, tried with pynetdicom as the peer (a PACS or a
modality): every transfer syntax modalities and archives send, the called AE title checked, a list of calling AE
titles, DICOM over TLS with the sender's certificate checked (PS3.15 B.1)."""

import shutil
import ssl
import subprocess
from collections.abc import Iterator

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, Verification
import pydicom
from pydicom import uid

from medxai.triton_server import free_port
from pacs.audit import AuditLog
from pacs.dicomweb import DicomWebSettings
from pacs.explanation import ServiceSettings
from pacs.pipeline import Gateway
from pacs.queue import DiskQueue
from pacs.receiver import Receiver, tls_context
from tests.explain_service.conftest import certificates

SENT_SYNTAXES = [uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian,
                 uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1, uid.JPEGLSLossless,
                 uid.JPEGLSNearLossless, uid.JPEG2000Lossless, uid.JPEG2000, uid.RLELossless]
"""What modalities and archives send (PS3.5 A.4), the issue's list."""


def receiver(tmp_path, **options) -> Receiver:
    """A receiver whose service and PACS are never reached: these tests only associate."""
    gateway = Gateway(ServiceSettings(address=f"127.0.0.1:{free_port()}"),
                      DicomWebSettings(f"http://127.0.0.1:{free_port()}/dicom-web"), AuditLog(tmp_path / "audit"))
    return Receiver("MEDXAI", free_port(), DiskQueue(tmp_path / "queue"), gateway, **options).start()


@pytest.fixture
def plain(tmp_path) -> Iterator[Receiver]:
    server = receiver(tmp_path)
    yield server
    server.stop()


def associate(server: Receiver, called: str = "MEDXAI", calling: str = "STORESCU", tls: ssl.SSLContext | None = None,
              contexts=((Verification, [uid.ImplicitVRLittleEndian]),)):
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.network_timeout = 10
    for abstract, syntaxes in contexts:
        for syntax in syntaxes:  # one context per syntax: the SCP accepts or rejects each one
            ae.add_requested_context(abstract, syntax)
    return ae.associate("127.0.0.1", server.port, ae_title=called,
                        tls_args=(tls, "localhost") if tls is not None else None)


def test_every_transfer_syntax_a_modality_sends_is_accepted(plain):
    association = associate(plain, contexts=[(CTImageStorage, SENT_SYNTAXES)])
    try:
        assert association.is_established
        accepted = {context.transfer_syntax[0] for context in association.accepted_contexts}
        assert accepted == set(SENT_SYNTAXES)
    finally:
        association.release()


def test_a_wrong_called_ae_title_is_refused(plain):
    association = associate(plain, called="WRONGAE")
    assert association.is_rejected
    good = associate(plain)
    assert good.is_established and good.send_c_echo().Status == 0
    good.release()


def test_only_listed_calling_ae_titles_may_send(tmp_path):
    server = receiver(tmp_path, calling_ae_titles=("ORTHANC",))
    try:
        assert associate(server, calling="STORESCU").is_rejected
        listed = associate(server, calling="ORTHANC")
        assert listed.is_established
        listed.release()
    finally:
        server.stop()


def test_dicom_over_tls_checks_the_senders_certificate(tmp_path):
    pem = certificates(tmp_path)
    server = receiver(tmp_path, tls=tls_context(pem["server.pem"], pem["server.key"], pem["ca.pem"]))
    try:
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pem["ca.pem"]))
        client.load_cert_chain(str(pem["client.pem"]), str(pem["client.key"]))
        secure = associate(server, tls=client)
        assert secure.is_established and secure.send_c_echo().Status == 0
        secure.release()
        anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pem["ca.pem"]))
        assert not associate(server, tls=anonymous).is_established  # no client certificate
        assert not associate(server).is_established  # plain DICOM to a TLS port
    finally:
        server.stop()


DCMTK_STORESCU = shutil.which("storescu", path="/usr/bin:/usr/local/bin")
"""DCMTK's storescu, not pynetdicom's of the same name in .venv/bin (which has no -xv, -xr, ...)."""


@pytest.mark.skipif(DCMTK_STORESCU is None, reason="DCMTK is not installed (apt-get install dcmtk)")
@pytest.mark.parametrize("option, name", [("-xv", "MR2_J2KR.dcm"), ("-xr", "MR_small_RLE.dcm"),
                                          ("-xt", "MR_small_jpeg_ls_lossless.dcm"),
                                          ("-xs", "JPGLosslessP14SV1_1s_1f_8b.dcm")])
def test_dcmtk_storescu_sends_compressed_images_as_they_are(plain, option, name):
    """DCMTK's storescu proposing only the file's compressed syntax (JPEG 2000, RLE, JPEG-LS, JPEG Lossless
    SV1): once answered 'Transfer Syntaxes Not Supported', now queued as sent."""
    from tests.pacs.corpus import named
    path = named(name)
    result = subprocess.run([DCMTK_STORESCU, "-aec", "MEDXAI", option, "127.0.0.1", str(plain.port), str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    sop_instance_uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    queued = plain.queue.folder / "pending" / f"{sop_instance_uid}.dcm"
    failed = plain.queue.folder / "failed" / f"{sop_instance_uid}.dcm"  # the service here is never reached
    received = queued if queued.is_file() else failed
    assert pydicom.dcmread(received).file_meta.TransferSyntaxUID == pydicom.dcmread(path).file_meta.TransferSyntaxUID
