"""The service commands (`serve`, `request`, `bench service`) as a user meets them, with real processes."""

import json
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest

from medxai.triton_server import free_port
from tests.cli import assert_help_with_example, assert_user_error, medxai
from tests.explain_service.conftest import MODEL, certificates


@pytest.mark.parametrize("command", [["serve"], ["request"], ["bench", "service"]])
def test_service_commands_have_help_with_an_example(command):
    assert_help_with_example(*command)


@pytest.mark.parametrize("args, message", [
    (["serve", "--checkpoint", "/nonexistent.pt", "--triton-url", "127.0.0.1:1", "--model", "m"],
     "checkpoint not found"),
    (["serve", "--checkpoint", "x.pt", "--triton-url", "127.0.0.1:1", "--model", "m", "--tls-cert", "c.pem"],
     "--tls-cert and --tls-key go together"),
    (["request", "--image", "/nonexistent.png", "--out", "x"], "file not found: /nonexistent.png"),
])
def test_service_user_errors_exit_2_with_one_clear_line(args, message):
    assert_user_error(medxai(*args), message)


def test_tokens_over_plaintext_need_insecure(tmp_path):
    (tmp_path / "tokens").write_text("s3cret\n")
    assert_user_error(medxai("serve", "--checkpoint", "x.pt", "--triton-url", "127.0.0.1:1", "--model", "m",
                             "--token-file", str(tmp_path / "tokens")), "bearer tokens over plaintext")


def wait_serving(channel, process) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            if health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                    health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        assert time.monotonic() < deadline, "the service never answered SERVING"
        time.sleep(0.5)


def serve(checkpoint, triton_url: str, port: int, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "medxai", "serve", "--checkpoint", str(checkpoint), "--triton-url",
                             triton_url, "--model", MODEL, "--port", str(port), "--metrics-port", str(free_port()),
                             *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_tls_with_a_token_file_through_the_cli(triton, trained_checkpoint, phantom_dir, tmp_path):
    files = certificates(tmp_path)
    (tmp_path / "tokens").write_text("# the viewer\nviewer-token\n")
    (tmp_path / "wrong").write_text("guess\n")
    port = free_port()
    process = serve(trained_checkpoint, triton.grpc_url, port, "--tls-cert", str(files["server.pem"]), "--tls-key",
                    str(files["server.key"]), "--token-file", str(tmp_path / "tokens"), "--audit-log",
                    str(tmp_path / "audit.jsonl"))
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=files["ca.pem"].read_bytes())
        with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
            wait_serving(channel, process)
        image = str(sorted((phantom_dir / "images").iterdir())[0])
        asked = medxai("request", "--image", image, "--out", str(tmp_path / "answer"), "--methods", "gradcam",
                       "--address", f"localhost:{port}", "--tls-ca", str(files["ca.pem"]), "--token-file",
                       str(tmp_path / "tokens"))
        assert asked.returncode == 0, asked.stderr
        assert np.load(tmp_path / "answer" / "gradcam.npy").shape == (64, 64)
        assert_user_error(medxai("request", "--image", image, "--out", str(tmp_path / "refused"), "--address",
                                 f"localhost:{port}", "--tls-ca", str(files["ca.pem"]), "--token-file",
                                 str(tmp_path / "wrong")), "answered UNAUTHENTICATED")
    finally:
        process.terminate()
        process.wait(timeout=60)
    callers = [json.loads(line)["caller"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert callers[0].startswith("token:") and callers[1].startswith("peer:")


@pytest.mark.slow
def test_mutual_tls_through_the_cli(triton, trained_checkpoint, tmp_path):
    from explain_service.protos import explain_pb2 as pb
    from explain_service.protos import explain_pb2_grpc as pb_grpc
    files = certificates(tmp_path)
    port = free_port()
    process = serve(trained_checkpoint, triton.grpc_url, port, "--tls-cert", str(files["server.pem"]), "--tls-key",
                    str(files["server.key"]), "--tls-client-ca", str(files["ca.pem"]), "--audit-log",
                    str(tmp_path / "audit.jsonl"))
    request = pb.PredictRequest(image=pb.Image(array=pb.RawArray(data=bytes(32 * 32), shape=[32, 32], dtype="uint8")),
                                allow_out_of_scope=True)  # a black image: research, so Triton's answer comes back
    try:
        with_client = grpc.ssl_channel_credentials(files["ca.pem"].read_bytes(), files["client.key"].read_bytes(),
                                                   files["client.pem"].read_bytes())
        with grpc.secure_channel(f"localhost:{port}", with_client) as channel:
            wait_serving(channel, process)
            assert pb_grpc.ExplainServiceStub(channel).Predict(request, timeout=30).prediction.probabilities
        without_client = grpc.ssl_channel_credentials(files["ca.pem"].read_bytes())
        with grpc.secure_channel(f"localhost:{port}", without_client) as channel, pytest.raises(grpc.RpcError):
            pb_grpc.ExplainServiceStub(channel).Predict(request, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=60)
    [line] = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert line["caller"] == "cn:viewer" and line["status"] == "OK"
