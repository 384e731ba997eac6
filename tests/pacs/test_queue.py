"""The receiver's on-disk queue, on real files: durable puts, back-off, giving up, forgetting what is done."""

import pytest

from pacs.queue import DiskQueue


def test_put_is_whole_and_one_file_per_instance(tmp_path):
    queue = DiskQueue(tmp_path)
    (tmp_path / "incoming" / "crashed-mid-write.part").write_bytes(b"half")  # a crash before the rename
    queue.put("1.2.3", b"first")
    queue.put("1.2.3", b"again")
    queue.put("1.2.4", b"other")
    assert queue.pending() == ["1.2.3", "1.2.4"]
    assert queue.read("1.2.3") == b"again"
    assert DiskQueue(tmp_path).pending() == ["1.2.3", "1.2.4"]  # a restart sees the same queue
    queue.done("1.2.3")
    assert queue.pending() == ["1.2.4"]


def test_back_off_doubles_then_gives_up(tmp_path):
    queue = DiskQueue(tmp_path, max_attempts=3, retry_base_s=2.0, retry_max_s=3.0)
    queue.put("1.2.3", b"x")
    assert queue.retry_later("1.2.3", "PACS down", now=100.0)["next_attempt"] == 102.0
    assert queue.due(now=101.0) == [] and queue.due(now=102.0) == ["1.2.3"]
    assert queue.retry_later("1.2.3", "PACS down", now=102.0)["next_attempt"] == 105.0  # 4 s capped at 3 s
    assert queue.retry_later("1.2.3", "PACS down", now=105.0)["failed"]
    assert queue.pending() == []
    assert (tmp_path / "failed" / "1.2.3.dcm").read_bytes() == b"x"
    assert "PACS down" in (tmp_path / "failed" / "1.2.3.json").read_text()


def test_only_uids_name_files(tmp_path):
    with pytest.raises(ValueError):
        DiskQueue(tmp_path).put("../../etc/passwd", b"x")
