"""The serving path end to end on the real tritonserver (CPU config: Python backend + ONNX Runtime):
export, infer over gRPC and HTTP, compare with PyTorch, hot-swap a version under load, metrics, shutdown."""

import threading
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient

from export.release import export_checkpoint
from medxai.triton_client import TritonClient
from medxai.triton_server import TritonServer, free_port

TOLERANCE = 1e-4


def assert_matches(served: np.ndarray, reference) -> None:
    reference = reference.numpy()
    assert np.abs(served - reference).max() <= TOLERANCE
    assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()


def http_infer(url: str, model: str, images: np.ndarray) -> np.ndarray:
    client = httpclient.InferenceServerClient(url)
    try:
        tensor = httpclient.InferInput("image", list(images.shape), "FP32")
        tensor.set_data_from_numpy(images)
        return client.infer(model, [tensor]).as_numpy("probabilities")
    finally:
        client.close()


def keep_requesting(url: str, images: np.ndarray, stop: threading.Event, answered: list, failures: list) -> None:
    with TritonClient(url, "chest", retries=0) as client:
        while not stop.is_set():
            try:
                client.infer(images)
                answered.append(1)
            except Exception as exc:  # every failure counts: the swap must drop nothing
                failures.append(exc)


@pytest.mark.slow
def test_export_serve_hot_swap_metrics_shutdown(tmp_path, make_checkpoint, pixels, torch_reference):
    repository = tmp_path / "repository"
    first, second = make_checkpoint(1), make_checkpoint(2)
    export_checkpoint(first, repository, "chest", target="both", enforce_gate=False, samples=4)
    images = pixels.numpy()
    server = TritonServer(repository, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
                          log_path=tmp_path / "triton.log")
    with server:
        with TritonClient(server.grpc_url, "chest") as client:
            assert client.metadata()["platform"] == "python"  # configs/cpu.pbtxt, not the GPU config.pbtxt
            assert_matches(client.infer(images), torch_reference(first, pixels))
            assert_matches(http_infer(server.http_url, "chest", images), torch_reference(first, pixels))

            swapped = export_checkpoint(second, repository, "chest", target="both", enforce_gate=False, samples=4)
            assert swapped.version == 2
            stop, answered, failures = threading.Event(), [], []
            flows = [threading.Thread(target=keep_requesting, args=(server.grpc_url, images[:2], stop, answered,
                                                                    failures)) for _ in range(2)]
            for flow in flows:
                flow.start()
            while not answered and not failures:
                stop.wait(0.05)
            client.load()
            swapped_at = len(answered)
            while len(answered) < swapped_at + 4 and not failures:
                stop.wait(0.05)
            stop.set()
            for flow in flows:
                flow.join()
            assert failures == []
            assert client.ready_versions() == ["2"]
            assert_matches(client.infer(images), torch_reference(second, pixels))

        metrics = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
        assert 'nv_inference_request_success{model="chest",version="2"}' in metrics
        assert "nv_inference_queue_duration_us" in metrics
    assert not server.running()
    assert server.stop() == 0
    assert "successfully unloaded 'chest' version 2" in (tmp_path / "triton.log").read_text()
