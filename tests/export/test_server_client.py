"""The server launcher and the client's error paths (the happy paths run in the integration test)."""

import socket
import tempfile
import threading
import time

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from medxai.errors import UserError
from medxai.triton_client import TritonClient, as_datatype
from medxai.triton_server import TritonServer, free_port


def test_client_retries_unavailable_then_raises():
    client = TritonClient(f"127.0.0.1:{free_port()}", "chest", timeout_s=2, retries=2, backoff_s=0.01)
    with pytest.raises(InferenceServerException) as error:
        client.metadata()
    assert error.value.status() == "StatusCode.UNAVAILABLE"
    assert not client.is_ready()
    client.close()


def test_pixels_are_converted_to_the_model_input_type():
    floats = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    assert as_datatype(floats, "UINT8").tolist() == [0, 128, 255]
    assert as_datatype(np.array([0, 255], dtype=np.uint8), "FP32").tolist() == [0.0, 1.0]
    assert as_datatype(floats.astype(np.float64), "FP32").dtype == np.float32


def test_missing_repository_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="model repository not found"):
        TritonServer(tmp_path / "absent")


@pytest.mark.slow
def test_a_model_that_fails_to_load_stops_startup_with_its_error(tmp_path):
    (tmp_path / "repository" / "broken" / "1").mkdir(parents=True)
    (tmp_path / "repository" / "broken" / "config.pbtxt").write_text('name: "broken"\nbackend: "no_such_backend"\n')
    server = TritonServer(tmp_path / "repository", http_port=free_port(), grpc_port=free_port(),
                          metrics_port=free_port(), log_path=tmp_path / "triton.log")
    with pytest.raises(UserError, match="tritonserver exited with code .*no_such_backend"):
        server.start()
    assert not server.running()
    assert "starting again (attempt 2 of 2)" in (tmp_path / "triton.log").read_text()  # a lasting cause, tried twice


@pytest.mark.slow
def test_a_start_that_fails_for_a_passing_reason_succeeds_the_second_time(tmp_path):
    """The HTTP port is taken when Triton first binds it and freed before the second attempt (what a port chosen
    free and taken by another process in between looks like): the server comes up, its log keeps the failure."""
    (tmp_path / "repository").mkdir()
    log = tmp_path / "triton.log"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()

    def free_the_port_after_the_first_failure() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "already in use" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.02)
        taken.close()

    threading.Thread(target=free_the_port_after_the_first_failure, daemon=True).start()
    with TritonServer(tmp_path / "repository", http_port=taken.getsockname()[1], grpc_port=free_port(),
                      metrics_port=free_port(), log_path=log) as server:
        assert server.running()
    text = log.read_text()
    assert "failed to start HTTP service" in text and "starting again (attempt 2 of 2)" in text


def test_the_cause_is_the_last_error_line_with_a_message(tmp_path):
    """An error line with no message (seen in CI: the demo's error ended in an empty cause) gives way to the one
    before it, or to tritonserver's own `error:` line."""
    server = TritonServer(tmp_path, log_path=tmp_path / "triton.log")
    (tmp_path / "triton.log").write_text('E1208 01:00:00.1 1 model.cc:1] "model failed"\nI1208 x.cc:2] "loading"\n'
                                         'E1208 01:00:00.2 1 server.cc:3] ""\nerror: creating server: Internal\n\n')
    assert server.last_error() == "model failed"
    (tmp_path / "triton.log").write_text('E1208 01:00:00.2 1 server.cc:3] ""\nerror: creating server: Internal\n\n')
    assert server.last_error() == "error: creating server: Internal"
    (tmp_path / "triton.log").write_text("")
    assert server.last_error() == "no log output"


def test_a_server_never_started_leaves_nothing_on_disk(tmp_path, monkeypatch):
    (tmp_path / "repository").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    server = TritonServer(tmp_path / "repository")
    assert not server.running() and server.stop() == 0
    assert list((tmp_path / "temp").iterdir()) == []
