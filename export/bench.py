"""Serving benchmark: Triton (dynamic batching, ONNX Runtime) against a naive one-request-at-a-time PyTorch
loop, at several client concurrencies, on the same machine in one run. Loopback only, a fixed request count.

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
from medxai.triton_server import TritonServer, free_port


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
    """One image through eager PyTorch, one request at a time (a lock serialises the clients)."""
    lock = threading.Lock()

    def call() -> None:
        with lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.probabilities(model(image))
    return call


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
                    requests: int, precision: str, log: Callable[[str], None]) -> dict:
    """Export `checkpoint` (or an untrained `architecture`) for the CPU target, serve it with Triton on
    loopback, and measure Triton and the naive PyTorch loop (at `precision`) at each concurrency."""
    with tempfile.TemporaryDirectory(prefix="medxai-bench-") as folder:
        folder = Path(folder)
        checkpoint = checkpoint or untrained_checkpoint(folder / "untrained.pt", architecture, image_size)
        model, info = load_checkpoint(checkpoint)
        export_checkpoint(checkpoint, folder / "repository", "bench", target="cpu", enforce_gate=False, samples=4,
                          log=log)
        image = sample_pixels(info.image_size, count=1)
        settings = {"architecture": info.architecture, "image_size": info.image_size, "requests": requests,
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    **hardware("cpu", precision)}
        log(f"settings: {json.dumps(settings)}")
        server = TritonServer(folder / "repository", http_port=free_port(), grpc_port=free_port(),
                              metrics_port=free_port(), log_path=folder / "triton.log")
        with server:
            results = run_levels("triton", triton_call(server.grpc_url, "bench", image.numpy()), levels, requests, log)
        naive = naive_torch_call(model, image, bf16=settings["precision"] == "bf16")
        results |= run_levels("torch", naive, levels, requests, log)
    ratios = {f"ratio_c{k}": round(results[f"triton_ips_c{k}"] / results[f"torch_ips_c{k}"], 2) for k in levels}
    return settings | results | ratios
