"""A real PACS for tests and demos: Debian's Orthanc with its DICOMweb plugin (QIDO-RS, WADO-RS, STOW-RS), run as a
plain process from a JSON configuration in a folder of its own.

Loopback only: remote access off (Orthanc answers HTTP from 127.0.0.1 alone), HTTP basic authentication on, free
ports picked at start; its storage and index live under the work folder, so a restart keeps the studies.
"""

import json
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from medxai.errors import UserError
from medxai.triton_server import popen_bound_to_parent

ORTHANC = "Orthanc"
SBIN_ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGINS = (Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
                    Path("/usr/lib/orthanc/libOrthancDicomWeb.so"))
USER = "medxai"
CONFIG_FILE = "orthanc.json"
PASSWORD_FILE = "password"
AE_TITLE = "ORTHANC"


def orthanc_binary() -> str | None:
    """Path of the Orthanc executable (Debian package `orthanc`, in /usr/sbin), or None."""
    return shutil.which(ORTHANC) or (str(SBIN_ORTHANC) if SBIN_ORTHANC.is_file() else None)


def dicomweb_plugin() -> Path | None:
    """The DICOMweb plugin (Debian package `orthanc-dicomweb`), or None."""
    candidates = [*DICOMWEB_PLUGINS, *sorted(Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*"))]
    return next((path for path in candidates if path.is_file()), None)


def missing() -> str | None:
    """Why Orthanc cannot run here (a sentence), or None when it can."""
    if orthanc_binary() is None:
        return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)"
    if dicomweb_plugin() is None:
        return "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return None


@dataclass
class OrthancServer:
    """One Orthanc on loopback; `start()` / `stop()` or a context manager.

    `http_port` serves the REST API and DICOMweb under /dicom-web; `dicom_port` takes C-STORE (AE title ORTHANC).
    The password is made once (mode 0600, `workdir/password`) and kept across restarts.
    """
    workdir: Path
    http_port: int
    dicom_port: int
    startup_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def password(self) -> str:
        path = self.workdir / PASSWORD_FILE
        if not path.is_file():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(18))
        return path.read_text().strip()

    @property
    def auth(self) -> tuple[str, str]:
        return USER, self.password

    def configuration(self) -> dict:
        """Orthanc's JSON configuration (the keys of Orthanc 1.10's default configuration file)."""
        return {
            "Name": "medxai-test-pacs",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "storage"),
            "StorageCompression": False,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": AE_TITLE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: self.password},
            "Plugins": [str(dicomweb_plugin())],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "OverwriteInstances": False,
            "DicomAlwaysAllowStore": True,
            "UnknownSopClassAccepted": True,
            "ConcurrentJobs": 1,
            "HttpThreadsCount": 8,
        }

    def start(self) -> "OrthancServer":
        """Write the configuration and start Orthanc; returns once its REST API answers with our credentials."""
        if (reason := missing()) is not None:
            raise UserError(f"{reason}.")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / CONFIG_FILE
        config.write_text(json.dumps(self.configuration(), indent=2))
        config.chmod(0o600)  # it holds the password
        with open(self.workdir / "orthanc.log", "ab") as log:
            # Own session (Ctrl-C reaches us, and we stop Orthanc once); SIGTERM when we die, so a crashed test
            # or CLI leaves no PACS behind.
            self._process = popen_bound_to_parent([orthanc_binary(), str(config)], stdout=log,
                                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise UserError(f"Orthanc exited with code {self._process.returncode} while starting "
                                f"(log: {self.workdir / 'orthanc.log'}).")
            try:
                if requests.get(f"{self.url}/system", auth=self.auth, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise UserError(f"Orthanc did not answer within {self.startup_timeout_s:.0f} s "
                        f"(log: {self.workdir / 'orthanc.log'}).")

    def add_modality(self, name: str, ae_title: str, port: int, host: str = "127.0.0.1") -> None:
        """Register a DICOM node Orthanc can send to (C-STORE), e.g. medxai's receiver."""
        response = requests.put(f"{self.url}/modalities/{name}", auth=self.auth, timeout=10,
                                json={"AET": ae_title, "Host": host, "Port": port})
        response.raise_for_status()

    def send_study(self, modality: str, study_uid: str) -> None:
        """Route a stored study to a registered modality by C-STORE (Orthanc's /modalities/{name}/store)."""
        found = requests.post(f"{self.url}/tools/lookup", data=study_uid, auth=self.auth, timeout=10).json()
        ids = [item["ID"] for item in found if item["Type"] == "Study"]
        if not ids:
            raise UserError(f"study {study_uid} is not in Orthanc.")
        response = requests.post(f"{self.url}/modalities/{modality}/store", auth=self.auth, timeout=120,
                                 json={"Resources": ids, "Synchronous": True})
        response.raise_for_status()

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait(self) -> int:
        return self._process.wait()

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 20 s; returns the exit code."""
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode

    def __enter__(self) -> "OrthancServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
