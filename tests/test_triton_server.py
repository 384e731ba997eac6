"""How medxai starts the servers it runs (medxai/triton_server.py `popen_bound_to_parent`, used for Triton and
Orthanc): in a session of their own, the server itself in the started pid, and stopped when medxai dies."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STARTER = """
import time
from medxai.triton_server import popen_bound_to_parent
child = popen_bound_to_parent(["sleep", "120"])
print(child.pid, flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an orphan waits for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def program(pid: int) -> bytes:
    """The program `pid` runs (its argv[0])."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]


def test_a_server_is_its_own_session_and_stops_when_the_process_that_started_it_is_killed():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(starter.stdout.readline())
        deadline = time.monotonic() + 10
        while program(pid) != b"sleep" and time.monotonic() < deadline:  # until setpriv has exec'd it
            time.sleep(0.05)
        assert program(pid) == b"sleep"  # the server itself in the pid medxai stops, no wrapper left running
        assert os.getsid(pid) == pid and running(pid)
        starter.send_signal(signal.SIGKILL)  # no cleanup code runs: only the kernel's parent-death signal
        starter.wait(timeout=10)
        deadline = time.monotonic() + 10
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(pid)
    finally:
        starter.kill()
        starter.stdout.close()
