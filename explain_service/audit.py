"""The audit trail: one append-only JSON line per request, on disk (flushed and fsynced) before the response
leaves, so a crash or restart never loses the record of a request the client saw answered.

Records hold identities, settings, hashes and results only: never pixels, never DICOM tags.
"""

import datetime
import json
import os
import threading
from pathlib import Path


class AuditLog:
    """Append-only JSON lines; one writer lock, one fsync per record."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # 0600: the trail says who asked what about which image; only the service's user may read it.
        self._file = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a",
                               encoding="utf-8")

    def write(self, record: dict) -> None:
        line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat()} | record,
                          sort_keys=True, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()
