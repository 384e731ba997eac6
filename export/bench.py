"""Serving benchmark: Triton (dynamic batching) against a naive one-request-at-a-time PyTorch loop, at several
client concurrencies, on the same machine and device in one run. Loopback only, a fixed request count.
On the CPU Triton runs the `cpu` target (ONNX Runtime); on CUDA the `gpu-python` target (PyTorch on the GPU).

Every request carries one image, as an interactive client would send; Triton may batch concurrent requests,
the naive loop never does. Latency is per request as the client sees it (queueing included).
"""

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from export.release import export_checkpoint
from export.samples import sample_pixels
from medxai.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint
from medxai.models import MedicalClassifier, build_model
from medxai.precision import hardware
from medxai.triton_client import TritonClient
from medxai.triton_server import SERVE_TARGETS, TritonServer, free_port

SERVING_TARGETS = {"cpu": "cpu", "cuda": "gpu-python"}
"""The Triton target benchmarked on each device type."""


def measure(call: Callable[[], None], concurrency: int, requests: int) -> dict[str, float]:
    """Images per second and latency percentiles (ms) of `requests` calls from `concurrency` threads."""
    for _ in range(concurrency):  # warm-up: sessions, connections, allocator
        call()
    latencies: list[float] = []

    def timed(_: int) -> None:
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)

    with ThreadPoolExecutor(concurrency) as clients:
        start = time.perf_counter()
        list(clients.map(timed, range(requests)))
        wall = time.perf_counter() - start
    p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
    return {"ips": requests / wall, "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99)}


def triton_call(url: str, model: str, image: np.ndarray) -> Callable[[], None]:
    """One single-image gRPC request; each client thread keeps its own connection."""
    local = threading.local()

    def call() -> None:
        if not hasattr(local, "client"):
            local.client = TritonClient(url, model)
        local.client.infer(image)
    return call


def naive_torch_call(model: MedicalClassifier, image: torch.Tensor, bf16: bool = False) -> Callable[[], None]:
    """One image through eager PyTorch on the model's device, one request at a time (a lock serialises the
    clients); the answer comes back to the host, as a response would."""
    lock = threading.Lock()
    device = next(model.parameters()).device
    image = image.to(device)

    def call() -> None:
        with lock, torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model.probabilities(model(image)).cpu()
    return call


def parity(url: str, name: str, model: MedicalClassifier, pixels: torch.Tensor) -> dict[str, float]:
    """Largest |difference| of Triton's probabilities from the fp32 PyTorch model's, and top-1 agreement."""
    with TritonClient(url, name) as client:
        served = client.infer(pixels.numpy())
    with torch.inference_mode():
        reference = model.probabilities(model(pixels.to(next(model.parameters()).device))).float().cpu().numpy()
    return {"parity_max_abs_diff": float(np.abs(served - reference).max()),
            "parity_top1_agreement": float((served.argmax(1) == reference.argmax(1)).mean())}


def run_levels(name: str, call: Callable[[], None], levels: Sequence[int], requests: int,
               log: Callable[[str], None]) -> dict[str, float]:
    """`<name>_ips_c<k>`, `<name>_p50_ms_c<k>`, ... for every concurrency k in `levels`."""
    results = {}
    for concurrency in levels:
        level = measure(call, concurrency, max(requests, 2 * concurrency))
        log(f"{name} c={concurrency}: {level['ips']:.1f} img/s, p50 {level['p50_ms']:.0f} ms, "
            f"p95 {level['p95_ms']:.0f} ms, p99 {level['p99_ms']:.0f} ms")
        results |= {f"{name}_{key}_c{concurrency}": round(value, 2) for key, value in level.items()}
    return results


def untrained_checkpoint(path: Path, architecture: str, image_size: int) -> Path:
    """A two-class checkpoint with fresh weights: speed does not depend on training."""
    return save_checkpoint(path, build_model(architecture, 2), CheckpointInfo(
        architecture=architecture, architecture_args={}, class_names=["negative", "positive"], multi_label=False,
        image_size=image_size, mean=[0.5] * 3, std=[0.25] * 3))


def serve_benchmark(checkpoint: Path | None, architecture: str, image_size: int, levels: Sequence[int],
                    requests: int, precision: str, log: Callable[[str], None], device: str = "cpu") -> dict:
    """Export `checkpoint` (or an untrained `architecture`) for `device`'s target, serve it with Triton on
    loopback, check parity, and measure Triton and the naive PyTorch loop (at `precision`) at each concurrency."""
    target = SERVING_TARGETS[torch.device(device).type]
    with tempfile.TemporaryDirectory(prefix="medxai-bench-") as folder:
        folder = Path(folder)
        checkpoint = checkpoint or untrained_checkpoint(folder / "untrained.pt", architecture, image_size)
        model, info = load_checkpoint(checkpoint)
        model.to(device)
        export_checkpoint(checkpoint, folder / "repository", "bench", target=target, enforce_gate=False, samples=4,
                          gpu_precision=precision, log=log)
        image = sample_pixels(info.image_size, count=1)
        settings = {"architecture": info.architecture, "image_size": info.image_size, "requests": requests,
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "target": target, **hardware(device, precision)}
        log(f"settings: {json.dumps(settings)}")
        server = TritonServer(folder / "repository", http_port=free_port(), grpc_port=free_port(),
                              metrics_port=free_port(), log_path=folder / "triton.log", **SERVE_TARGETS[target])
        with server:
            results = parity(server.grpc_url, "bench", model, sample_pixels(info.image_size, count=8))
            log(f"parity: {json.dumps(results)}")
            results |= run_levels("triton", triton_call(server.grpc_url, "bench", image.numpy()), levels, requests, log)
        naive = naive_torch_call(model, image, bf16=settings["precision"] == "bf16")
        results |= run_levels("torch", naive, levels, requests, log)
    ratios = {f"ratio_c{k}": round(results[f"triton_ips_c{k}"] / results[f"torch_ips_c{k}"], 2) for k in levels}
    return settings | results | ratios
