"""The ratings store: one committed transaction per rating, retried (not lost) while another writer holds
the database, and every acknowledged rating still there after the writer is killed."""

import signal
import sqlite3
import subprocess
import sys
import threading
import time

from dashboard.ratings import Rating, RatingStore, latest


def rating(score: int, reviewer: str = "dr_a", method: str = "gradcam") -> Rating:
    return Rating(reviewer=reviewer, case_id="ab" * 32, dataset="phantoms", model="phantom", model_version="1",
                  method=method, score=score, misleading=score == 1, comment="edge of the lesion")


def test_ratings_round_trip_in_wal_mode(tmp_path):
    store = RatingStore(tmp_path / "ratings.sqlite")
    first, second = store.add(rating(4)), store.add(rating(2, method="ig"))
    frame = store.frame()
    assert frame["id"].tolist() == [first, second]
    assert frame[["method", "score", "misleading"]].values.tolist() == [["gradcam", 4, 0], ["ig", 2, 0]]
    with sqlite3.connect(tmp_path / "ratings.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_rating_submitted_while_the_database_is_busy_is_retried(tmp_path):
    store = RatingStore(tmp_path / "ratings.sqlite")
    blocker = sqlite3.connect(tmp_path / "ratings.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the write lock
    stored: list[int] = []
    writer = threading.Thread(target=lambda: stored.append(store.add(rating(5))))
    writer.start()
    time.sleep(0.5)
    assert not stored  # still waiting for the lock, not failed
    blocker.execute("COMMIT")
    blocker.close()
    writer.join(timeout=60)
    assert stored and store.frame()["score"].tolist() == [5]


def test_a_re_rating_replaces_the_earlier_one_in_statistics(tmp_path):
    store = RatingStore(tmp_path / "ratings.sqlite")
    store.add(rating(2))
    store.add(rating(4))
    store.add(rating(3, reviewer="dr_b"))
    assert sorted(latest(store.frame())["score"].tolist()) == [3, 4]


WRITER = """
import sys
from dashboard.ratings import Rating, RatingStore
store = RatingStore(sys.argv[1])
for n in range(10_000):
    row = store.add(Rating("dr_a", f"case{n}", "phantoms", "phantom", "1", "fusion", n % 5 + 1))
    print(row, flush=True)  # the acknowledgement: after the commit
"""


def test_every_acknowledged_rating_survives_sigkill(tmp_path):
    database = tmp_path / "ratings.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(database)], stdout=subprocess.PIPE, text=True)
    acknowledged = [int(writer.stdout.readline()) for _ in range(25)]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    acknowledged += [int(line) for line in writer.stdout.read().split()]  # acks already on the pipe
    assert set(acknowledged) <= set(RatingStore(database).frame()["id"])
