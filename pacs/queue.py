"""The receiver's work queue on disk: a received instance is durable before the sender hears success, so a crash
loses nothing and a restart resumes; a failed attempt waits with exponential back-off before the next one.

Layout under the queue folder:
- `pending/<SOP Instance UID>.dcm`: received, not yet explained and stored (written to `incoming/`, fsynced, then
  renamed: a file in `pending/` is always whole; the same instance received twice is one file);
- `pending/<SOP Instance UID>.json`: attempts so far, when the next is due, the last error;
- `failed/`: instances that can never succeed (or ran out of attempts), with their last error.
"""

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass
class DiskQueue:
    """Pending instances by SOP Instance UID; `retry_base_s` doubles with each attempt up to `retry_max_s`."""
    folder: Path
    max_attempts: int = 8
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        for name in ("incoming", "pending", "failed"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)

    def _path(self, uid: str, suffix: str, where: str = "pending") -> Path:
        if not uid or any(c not in "0123456789." for c in uid):
            raise ValueError(f"not a UID: {uid!r}")
        return self.folder / where / f"{uid}{suffix}"

    def put(self, uid: str, part10: bytes, calling_ae_title: str = "") -> Path:
        """Store one received instance durably (fsync of file and folder) and return its pending path; the
        sender's AE title goes into its state (for the gateway's per-sender metrics)."""
        temporary = self.folder / "incoming" / f"{uuid.uuid4().hex}.part"
        with open(temporary, "wb") as handle:
            handle.write(part10)
            handle.flush()
            os.fsync(handle.fileno())
        target = self._path(uid, ".dcm")
        if calling_ae_title:
            self._path(uid, ".json").write_text(json.dumps(self.state(uid) | {"calling_ae_title": calling_ae_title}))
        os.replace(temporary, target)
        _fsync_folder(target.parent)
        return target

    def state(self, uid: str) -> dict:
        path = self._path(uid, ".json")
        return json.loads(path.read_text()) if path.is_file() else {"attempts": 0, "next_attempt": 0.0}

    def pending(self) -> list[str]:
        """Every pending UID, oldest first (a file done or failed while the folder is listed is left out)."""
        arrived = []
        for path in (self.folder / "pending").glob("*.dcm"):
            try:
                arrived.append((path.stat().st_mtime, path.name, path.stem))
            except FileNotFoundError:
                continue
        return [uid for _, _, uid in sorted(arrived)]

    def due(self, now: float | None = None) -> list[str]:
        """Pending UIDs whose next attempt is due, oldest first."""
        now = time.time() if now is None else now
        return [uid for uid in self.pending() if self.state(uid)["next_attempt"] <= now]

    def read(self, uid: str) -> bytes:
        return self._path(uid, ".dcm").read_bytes()

    def done(self, uid: str) -> None:
        """The instance is explained and its results stored: forget it."""
        self._path(uid, ".json").unlink(missing_ok=True)
        self._path(uid, ".dcm").unlink(missing_ok=True)

    def retry_later(self, uid: str, error: str, now: float | None = None) -> dict:
        """Count a failed attempt and schedule the next after the back-off; past `max_attempts`, give up."""
        now = time.time() if now is None else now
        state = self.state(uid)
        state["attempts"] += 1
        state["last_error"] = error
        state["next_attempt"] = now + min(self.retry_base_s * 2 ** (state["attempts"] - 1), self.retry_max_s)
        if state["attempts"] >= self.max_attempts:
            self.fail(uid, error)
            return state | {"failed": True}
        self._path(uid, ".json").write_text(json.dumps(state))
        return state

    def fail(self, uid: str, error: str) -> None:
        """Set the instance aside for a person to look at, with the reason."""
        state = self.state(uid) | {"last_error": error}
        self._path(uid, ".json", "failed").write_text(json.dumps(state))
        os.replace(self._path(uid, ".dcm"), self._path(uid, ".dcm", "failed"))
        self._path(uid, ".json").unlink(missing_ok=True)
