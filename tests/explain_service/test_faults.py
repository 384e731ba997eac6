"""Fault tests: Triton killed mid-traffic (fast UNAVAILABLE, then recovery by itself), and the service killed
mid-traffic and restarted (no audit line of a completed request lost)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from explain_service.client import service_serving
from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from medxai.triton_server import free_port
from tests.explain_service.conftest import MODEL, start_triton, stub_for

pytestmark = pytest.mark.slow
REQUEST = pb.PredictRequest(image=pb.Image(array=pb.RawArray(data=bytes(32 * 32), shape=[32, 32], dtype="uint8")),
                            allow_out_of_scope=True)
"""A black image, answered as research (it is outside the phantom model's intended use): these tests need Triton's
answer, not the scope's."""


def until(condition, timeout_s: float = 120.0, what: str = "condition") -> None:
    """Poll `condition` until true; fail (not hang) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout_s:.0f} s")
        time.sleep(0.2)


def traffic(stub: pb_grpc.ExplainServiceStub, stop: threading.Event, answered: list, failures: list) -> None:
    while not stop.is_set():
        try:
            answered.append(stub.Predict(REQUEST, timeout=20).request_id)
        except grpc.RpcError as exc:
            failures.append(exc.code())


def health_status(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def test_triton_killed_mid_traffic_fails_fast_then_recovers(repository, make_service, tmp_path):
    grpc_port = free_port()
    triton = start_triton(repository, tmp_path / "triton.log", grpc_port)
    service = make_service(triton.grpc_url)
    channel, stub = stub_for(service)
    stop, answered, failures = threading.Event(), [], []
    flows = [threading.Thread(target=traffic, args=(stub, stop, answered, failures)) for _ in range(2)]
    try:
        for flow in flows:
            flow.start()
        until(lambda: len(answered) >= 4, what="traffic")
        triton._process.kill()
        triton.stop()
        until(lambda: failures, what="a failed request")
        with pytest.raises(grpc.RpcError) as down:
            stub.Predict(REQUEST, timeout=20)  # UNAVAILABLE well before the 20 s deadline
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE and "Triton" in down.value.details()
        until(lambda: health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING, what="NOT_SERVING")

        restarted = start_triton(repository, tmp_path / "triton-restarted.log", grpc_port)
        try:
            served_before = len(answered)
            until(lambda: len(answered) > served_before + 2, what="recovery after Triton restarted")
            assert stub.Predict(REQUEST, timeout=20).prediction.probabilities
            until(lambda: health_status(channel) == health_pb2.HealthCheckResponse.SERVING, what="SERVING")
        finally:
            stop.set()
            for flow in flows:
                flow.join()
            restarted.stop()
    finally:
        stop.set()
        channel.close()
    assert set(failures) == {grpc.StatusCode.UNAVAILABLE}  # never a hang to the deadline, never an internal error


def serve_process(checkpoint, triton_url: str, port: int, audit_log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "medxai", "serve", "--checkpoint", str(checkpoint),
                             "--triton-url", triton_url, "--model", MODEL, "--port", str(port), "--metrics-port",
                             str(free_port()), "--audit-log", str(audit_log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_service_killed_and_restarted_loses_no_audit_line(triton, trained_checkpoint, tmp_path):
    audit_log, port = tmp_path / "audit.jsonl", free_port()
    address = f"127.0.0.1:{port}"
    answered: list[str] = []
    for _ in range(2):  # run, SIGKILL mid-traffic, restart on the same audit log, run again
        process = serve_process(trained_checkpoint, triton.grpc_url, port, audit_log)
        try:
            until(lambda: service_serving(address), what="service start")
            with grpc.insecure_channel(address) as channel:
                stub = pb_grpc.ExplainServiceStub(channel)
                stop, failures = threading.Event(), []
                flows = [threading.Thread(target=traffic, args=(stub, stop, answered, failures)) for _ in range(2)]
                for flow in flows:
                    flow.start()
                served_before = len(answered)
                until(lambda: len(answered) >= served_before + 6, what="traffic")
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                stop.set()
                for flow in flows:
                    flow.join()
        finally:
            process.kill()
            process.wait()
    audited = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert set(answered) <= {line["request_id"] for line in audited}
