"""The command line as a user meets it: `python -m medxai ...` in a real subprocess."""

import subprocess
import sys


def medxai(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxai", *args], capture_output=True, text=True, timeout=timeout)
