"""`medxai stack up/down` with real processes: Triton, the explain service and, with `--pacs`, the test PACS."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from explain_service.client import service_serving
from medxai.commands.stack import StackPorts, process_alive, stack_down, stack_up
from medxai.triton_server import free_port
from pacs import orthanc
from tests.cli import assert_help_with_example, assert_user_error, medxai
from tests.explain_service.conftest import MODEL


@pytest.mark.parametrize("command", [["stack", "up"], ["stack", "down"]])
def test_stack_commands_have_help_with_an_example(command):
    assert_help_with_example(*command)


@pytest.mark.parametrize("args, message", [
    (["stack", "down", "--workdir", "/nonexistent-stack"], "no running stack"),
    (["stack", "up", "--workdir", "/nonexistent-stack"], "no checkpoint at"),
])
def test_stack_user_errors_exit_2_with_one_clear_line(args, message):
    assert_user_error(medxai(*args), message)


def test_stack_up_on_a_busy_port_says_which_and_how_to_move_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.pt").write_bytes(b"checked after the ports")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        free = [free_port() for _ in range(4)]
        assert_user_error(medxai("stack", "up", "--workdir", str(tmp_path), "--triton-http-port", str(free[0]),
                                 "--triton-grpc-port", str(port), "--triton-metrics-port", str(free[1]),
                                 "--port", str(free[2]), "--metrics-port", str(free[3])),
                          f"port {port} (triton grpc) is busy: pick another with --triton-grpc-port")


@pytest.mark.slow
def test_stack_up_serves_a_request_and_stack_down_stops(repository, trained_checkpoint, phantom_dir, tmp_path):
    shutil.copytree(repository, tmp_path / "model_repository")  # already exported: `up` must not export again
    ports = StackPorts(*(free_port() for _ in range(5)))
    state = stack_up(tmp_path, trained_checkpoint, MODEL, ports)
    try:
        assert json.loads((tmp_path / "stack.json").read_text()) == state
        assert service_serving(state["service"]["address"])
        assert sorted(path.name for path in (tmp_path / "model_repository" / MODEL).iterdir() if path.is_dir()) == \
            ["1", "configs"]
        image = sorted((phantom_dir / "images").iterdir())[0]
        result = medxai("request", "--image", str(image), "--out", str(tmp_path / "answer"), "--methods", "gradcam,ig",
                        "--address", state["service"]["address"])
        assert result.returncode == 0, result.stderr
        response = json.loads((tmp_path / "answer" / "response.json").read_text())
        assert [entry["method"] for entry in response["maps"]] == ["gradcam", "ig"]
        assert response["model"]["name"] == MODEL and response["predicted"] in response["prediction"]
        for method in ("gradcam", "ig"):
            saliency = np.load(tmp_path / "answer" / f"{method}.npy")
            assert saliency.shape == (64, 64) and 0 <= saliency.min() <= saliency.max() <= 1
            assert (tmp_path / "answer" / f"{method}.png").read_bytes().startswith(b"\x89PNG")
    finally:
        stopped = stack_down(tmp_path)
    assert len(stopped) == 2 and not (tmp_path / "stack.json").exists()
    assert not process_alive(state["service"]["pid"]) and not process_alive(state["triton"]["pid"])


@pytest.mark.slow
def test_ctrl_c_during_stack_up_leaves_nothing_running(repository, trained_checkpoint, tmp_path):
    shutil.copytree(repository, tmp_path / "model_repository")
    ports = [str(free_port()) for _ in range(5)]
    up = subprocess.Popen([sys.executable, "-m", "medxai", "stack", "up", "--workdir", str(tmp_path), "--checkpoint",
                           str(trained_checkpoint), "--model", MODEL, "--triton-http-port", ports[0],
                           "--triton-grpc-port", ports[1], "--triton-metrics-port", ports[2], "--port", ports[3],
                           "--metrics-port", ports[4]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          # a suite started in the background (`cmd &`) inherits SIGINT ignored: Python would then
                          # never raise KeyboardInterrupt, so the child gets the terminal's default back
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state_file = tmp_path / "stack.json"
    deadline = time.monotonic() + 120
    while not (state_file.is_file() and "pid" in json.loads(state_file.read_text() or "{}").get("triton", {})):
        assert up.poll() is None and time.monotonic() < deadline, "stack up never recorded Triton's pid"
        time.sleep(0.1)
    pids = [entry["pid"] for entry in json.loads(state_file.read_text()).values() if isinstance(entry, dict)
            and "pid" in entry]
    up.send_signal(signal.SIGINT)  # as Ctrl-C in the terminal: the servers run in their own sessions
    up.communicate(timeout=120)
    assert up.returncode != 0 and not state_file.exists()
    assert pids and not any(process_alive(pid) for pid in pids)


def processes_mentioning(folder: Path) -> list[int]:
    """Pids whose command line names `folder` (every server the stack starts does: its repository, logs or
    configuration live there); zombies have no command line and do not count."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # exited meanwhile
                pass
    return found


@pytest.mark.slow
def test_stack_up_with_the_test_pacs_answers_qido_and_down_leaves_no_process(repository, trained_checkpoint,
                                                                            tmp_path):
    if (reason := orthanc.missing()) is not None:
        pytest.skip(reason)
    shutil.copytree(repository, tmp_path / "model_repository")
    ports = [str(free_port()) for _ in range(5)]
    up = medxai("stack", "up", "--workdir", str(tmp_path), "--checkpoint", str(trained_checkpoint), "--model", MODEL,
                "--triton-http-port", ports[0], "--triton-grpc-port", ports[1], "--triton-metrics-port", ports[2],
                "--port", ports[3], "--metrics-port", ports[4], "--pacs")
    try:
        assert up.returncode == 0, up.stderr
        pacs = json.loads((tmp_path / "stack.json").read_text())["pacs"]
        assert f"DICOMweb {pacs['dicomweb']}" in up.stdout and pacs["password_file"] in up.stdout
        assert Path(pacs["password_file"]).parent == tmp_path / "pacs"
        password = Path(pacs["password_file"]).read_text().strip()
        studies = requests.get(f"{pacs['dicomweb']}/studies", auth=(pacs["user"], password), timeout=10)
        assert studies.status_code == 200 and studies.json() == []  # QIDO-RS on an empty PACS
        assert requests.get(f"{pacs['dicomweb']}/studies", timeout=10).status_code == 401
        assert len(processes_mentioning(tmp_path)) >= 4  # Triton, the service, the PACS helper and Orthanc
    finally:
        down = medxai("stack", "down", "--workdir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert "pacs (pid" in down.stdout and not (tmp_path / "stack.json").exists()
    deadline = time.monotonic() + 30
    while processes_mentioning(tmp_path):
        assert time.monotonic() < deadline, f"still running: {processes_mentioning(tmp_path)}"
        time.sleep(0.2)
