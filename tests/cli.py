"""The command line as a user meets it: `python -m medxai ...` in a real subprocess."""

import subprocess
import sys


def medxai(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxai", *args], capture_output=True, text=True, timeout=timeout)


def assert_help_with_example(*command: str) -> None:
    """`--help` works and shows a runnable example."""
    result = medxai(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example: medxai" in result.stdout


def assert_user_error(result: subprocess.CompletedProcess, message: str) -> None:
    """A user error: exit code 2 and one clear line on stderr, no traceback."""
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
