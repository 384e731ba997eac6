"""`medxai export`, `medxai triton serve` and `medxai bench serve` as a user meets them (real subprocesses)."""

import json
import signal
import subprocess
import sys

import pytest

from medxai.triton_server import free_port
from tests.cli import assert_help_with_example, assert_user_error, medxai


@pytest.mark.parametrize("command", [["export"], ["triton", "serve"], ["bench", "serve"]])
def test_every_serving_command_has_help_with_an_example(command):
    assert_help_with_example(*command)


@pytest.mark.parametrize("args, message", [
    (["export", "--checkpoint", "/nonexistent.pt", "--repository", "/tmp/never", "--name", "m"],
     "checkpoint not found"),
    (["triton", "serve", "--repository", "/nonexistent"], "model repository not found"),
    (["bench", "serve", "--concurrency", "1,x"], "--concurrency must be comma-separated integers"),
])
def test_user_errors_exit_2_with_one_clear_line(args, message):
    assert_user_error(medxai(*args), message)


def test_export_prints_parity_and_a_json_summary(make_checkpoint, tmp_path):
    args = ("export", "--checkpoint", str(make_checkpoint(1)), "--repository", str(tmp_path), "--name", "chest",
            "--target", "cpu", "--input-dtype", "uint8", "--samples", "4")
    result = medxai(*args, "--force")  # --force: the fresh model has no sanity-check pedigree
    assert result.returncode == 0, result.stderr
    assert "onnxruntime parity ok: max |diff|" in result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["version"] == 1 and all(report["passed"] for report in summary["parity"])
    assert (tmp_path / "chest" / "configs" / "cpu.pbtxt").is_file()
    assert not (tmp_path / "chest" / "config.pbtxt").exists()
    again = medxai(*args, "--version", "1")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.slow
def _default_sigint() -> None:
    """A suite started as a shell's background job hands its children an ignored SIGINT: undo that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; Kubernetes and systemd
def test_triton_serve_runs_in_the_foreground_until_interrupted(make_checkpoint, tmp_path, stop_signal):
    from export.release import export_checkpoint
    export_checkpoint(make_checkpoint(1), tmp_path / "repository", "chest", target="cpu", enforce_gate=False, samples=4)
    ports = [str(free_port()) for _ in range(3)]
    process = subprocess.Popen(
        [sys.executable, "-m", "medxai", "triton", "serve", "--repository", str(tmp_path / "repository"),
         "--http-port", ports[0], "--grpc-port", ports[1], "--metrics-port", ports[2],
         "--log-file", str(tmp_path / "triton.log")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint)
    try:
        assert "tritonserver ready" in process.stdout.readline()
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "tritonserver stopped (exit code 0)" in out
