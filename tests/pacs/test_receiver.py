"""`medxai pacs receive` as a PACS uses it: Orthanc routes a stored study to it by C-STORE; it answers at once,
queues on disk, retries while the PACS refuses it, survives being killed mid-study, and ends with exactly one set
of results per image in Orthanc."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medxai.triton_server import free_port
from pacs.dicomweb import retrieve, store
from pacs.queue import DiskQueue
from tests.pacs.conftest import phantom_study

DEADLINE_S = 180


def start_receiver(port: int, queue: Path, audit: Path, pacs_settings, password_file: Path, service,
                   *options: str) -> subprocess.Popen:
    """`medxai pacs receive` on `port`, returned once it listens; `options` are added to its command line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "medxai", "pacs", "receive", "--port", str(port), "--queue", str(queue),
         "--dicomweb", pacs_settings.url, "--user", pacs_settings.user, "--password-file", str(password_file),
         "--service", f"127.0.0.1:{service.port}", "--audit-log", str(audit), "--ig-steps", "8",
         "--lime-samples", "100", "--retry-base-s", "0.5", *options], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the receiver did not listen within 60 s")


def audit_lines(audit: Path) -> list[dict]:
    return [json.loads(line) for line in audit.read_text().splitlines()] if audit.is_file() else []


def wait_for(condition, what: str, seconds: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_routed_study_survives_refusals_and_a_kill(orthanc_server, pacs_settings, service, in_scope, tmp_path):
    sources = phantom_study(in_scope, ["CT", "MR", "CR"], first=3)
    study_uid = str(sources[0].StudyInstanceUID)
    store(pacs_settings, sources, study_uid)
    port, queue_dir, audit = free_port(), tmp_path / "queue", tmp_path / "audit.jsonl"
    orthanc_server.add_modality("medxai", "MEDXAI", port)
    wrong_password = tmp_path / "wrong"
    wrong_password.write_text("not-the-password")

    # 1. the PACS refuses our credentials: every instance is queued and retried with back-off, none lost
    receiver = start_receiver(port, queue_dir, audit, pacs_settings, wrong_password, service)
    orthanc_server.send_study("medxai", study_uid)  # returns once every C-STORE was answered
    assert len(DiskQueue(queue_dir).pending()) == 3
    wait_for(lambda: sum(line["outcome"] == "retry" for line in audit_lines(audit)) >= 4, "retries")
    kill(receiver)
    assert len(DiskQueue(queue_dir).pending()) == 3
    assert any(line.get("attempts", 0) >= 2 for line in audit_lines(audit))

    # 2. right credentials; killed as soon as the first image is done
    receiver = start_receiver(port, queue_dir, audit, pacs_settings, pacs_settings.password_file, service)
    wait_for(lambda: any(line["outcome"] == "explained" for line in audit_lines(audit)), "a first image")
    kill(receiver)
    assert len(DiskQueue(queue_dir).pending()) >= 1

    # 3. a restart resumes the queue
    receiver = start_receiver(port, queue_dir, audit, pacs_settings, pacs_settings.password_file, service)
    try:
        wait_for(lambda: not DiskQueue(queue_dir).pending(), "an empty queue")
    finally:
        kill(receiver)
    lines = audit_lines(audit)
    explained = [line["sop_instance_uid"] for line in lines if line["outcome"] == "explained"]
    assert len(explained) == len(set(explained))  # none twice
    # none lost (one killed between its STOW-RS and its audit line is found stored on restart)
    finished = {line["sop_instance_uid"] for line in lines if line["outcome"] in ("explained", "already-explained")}
    assert finished == {str(s.SOPInstanceUID) for s in sources}
    assert not any(line["outcome"] == "failed" for line in lines)
    assert len(retrieve(pacs_settings, study_uid)) == 3 + 2 * 4 + 3 * 2  # no duplicate object in the PACS
