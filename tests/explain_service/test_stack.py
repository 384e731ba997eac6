"""`medxai stack up/down` with real processes, and the service commands as a user meets them."""

import json
import shutil

import numpy as np
import pytest

from explain_service.stack import StackPorts, process_alive, service_serving, stack_down, stack_up
from medxai.triton_server import free_port
from tests.cli import assert_help_with_example, assert_user_error, medxai
from tests.explain_service.conftest import MODEL


@pytest.mark.parametrize("command", [["serve"], ["request"], ["stack", "up"], ["stack", "down"],
                                     ["bench", "service"]])
def test_service_commands_have_help_with_an_example(command):
    assert_help_with_example(*command)


@pytest.mark.parametrize("args, message", [
    (["serve", "--checkpoint", "/nonexistent.pt", "--triton-url", "127.0.0.1:1", "--model", "m"],
     "checkpoint not found"),
    (["serve", "--checkpoint", "x.pt", "--triton-url", "127.0.0.1:1", "--model", "m", "--tls-cert", "c.pem"],
     "--tls-cert and --tls-key go together"),
    (["stack", "down", "--workdir", "/nonexistent-stack"], "no running stack"),
    (["stack", "up", "--workdir", "/nonexistent-stack"], "no checkpoint at"),
    (["request", "--image", "/nonexistent.png", "--out", "x"], "file not found: /nonexistent.png"),
])
def test_service_user_errors_exit_2_with_one_clear_line(args, message):
    assert_user_error(medxai(*args), message)


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
