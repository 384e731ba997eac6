"""Clinician trust ratings (the paper's Human Trust Score, §3.5) in SQLite.

One transaction per rating, WAL journal with synchronous=FULL: once `add` returns, the rating is on disk and
survives the app being killed. A database busy with another writer is waited for and retried, never dropped.
The case is identified by a SHA-256 of its pixels: no file name and no DICOM tag is ever stored.
"""

import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

BUSY_TIMEOUT_S = 5.0
BUSY_RETRIES = 20
SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reviewer TEXT NOT NULL,
    case_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    method TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    misleading INTEGER NOT NULL DEFAULT 0,
    comment TEXT NOT NULL DEFAULT '',
    blinded INTEGER NOT NULL DEFAULT 0,
    rated_at TEXT NOT NULL
)"""


@dataclass
class Rating:
    reviewer: str
    case_id: str
    dataset: str
    model: str
    model_version: str
    method: str
    score: int
    misleading: bool = False
    comment: str = ""
    blinded: bool = False
    rated_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


class RatingStore:
    """The ratings database at `path` (created on first use)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def add(self, rating: Rating) -> int:
        """Store one rating in its own transaction; returns its row id once it is committed."""
        if not 1 <= rating.score <= 5:
            raise ValueError(f"score must be 1-5, got {rating.score}")
        row = asdict(rating)
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        for attempt in range(BUSY_RETRIES):
            connection = self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
                cursor = connection.execute(f"INSERT INTO ratings ({columns}) VALUES ({placeholders})", row)
                connection.execute("COMMIT")
                return int(cursor.lastrowid)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            finally:
                connection.close()
        raise sqlite3.OperationalError(f"ratings database {self.path} stayed busy; the rating was not stored")

    def frame(self) -> pd.DataFrame:
        """Every rating, oldest first."""
        with closing(self._connect()) as connection:
            return pd.read_sql_query("SELECT * FROM ratings ORDER BY id", connection)


def latest(ratings: pd.DataFrame) -> pd.DataFrame:
    """A reviewer's last rating of each (case, model version, method): re-rating replaces, it does not add."""
    keys = ["reviewer", "case_id", "dataset", "model", "model_version", "method"]
    return ratings.sort_values("id").drop_duplicates(keys, keep="last")
