"""The gateway's audit trail: one JSON line per processed source instance, appended to a file of mode 0600.
It names the instance by its UIDs, the model version and what was written; never pixels, never a patient
attribute (PS3.15 E.1 lists what identifies a patient; UIDs of the instances are needed to find the results)."""

import json
import os
import threading
import time
from pathlib import Path


class AuditLog:
    """Append-only JSON lines; safe to call from several threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, outcome: str, **fields) -> dict:
        """One line: the time, the outcome (explained, already-explained, retry, failed) and the given fields."""
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "outcome": outcome} | fields
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
        return line

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.is_file() else []
