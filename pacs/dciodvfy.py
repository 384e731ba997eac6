"""David Clunie's `dciodvfy` (Debian `dicom3tools`): checks an object against its IOD, by a tool no one here wrote."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset

DCIODVFY = "dciodvfy"


def available() -> bool:
    return shutil.which(DCIODVFY) is not None


def errors(dataset: Dataset) -> list[str]:
    """dciodvfy's "Error" lines for `dataset` (written to a temporary Part 10 file); empty when it conforms."""
    with tempfile.TemporaryDirectory(prefix="medxai-dciodvfy-") as folder:
        path = Path(folder) / "object.dcm"
        dataset.save_as(path, enforce_file_format=True)
        run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
