"""The load side of `medxai bench service`: `clients` threads each send `requests` Explain calls (Grad-CAM + IG,
small settings) one after another to a running service, after a warm-up at the same concurrency.

IG starts at IG_STEPS and doubles while its completeness gap is over 5 %: the steps that ran are counted per
request. RSS growth is this process's resident memory after the load relative to after the warm-up (so the
allocator's per-thread arenas and the thread pool are already grown): run the service in this process and a leak
per request shows as growth; the target is <= 10 %. Exporting and starting Triton and the service is the command
line's job (`medxai.commands.service`).
"""

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
import numpy as np

from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc

IG_STEPS = 8
WARMUP_REQUESTS = 4
"""Per client, before RSS is first read."""
DEADLINE_S = 120.0


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def bench_request(image: np.ndarray, methods: Sequence[str] = ("cam", "ig")) -> pb.ExplainRequest:
    array = pb.RawArray(data=(image * 255).round().astype(np.uint8).tobytes(), shape=list(image.shape), dtype="uint8")
    return pb.ExplainRequest(image=pb.Image(array=array), methods=list(methods),
                             ig=pb.IntegratedGradientsSettings(steps=IG_STEPS))


def _client(address: str, request: pb.ExplainRequest, count: int, latencies: list, errors: list,
            ig_steps: list) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.ExplainServiceStub(channel)
        for _ in range(count):
            start = time.perf_counter()
            try:
                response = stub.Explain(request, timeout=DEADLINE_S)
                latencies.append(time.perf_counter() - start)
                ig_steps.append(int(next(m for m in response.maps if m.method == "ig").diagnostics["steps"]))
            except grpc.RpcError as exc:
                errors.append(exc.code().name)


def _load(address: str, request: pb.ExplainRequest, clients: int,
          count: int) -> tuple[list[float], list[str], list[int], float]:
    """`clients` threads sending `count` requests each; latencies, error codes, IG steps run and the wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    ig_steps: list[int] = []
    threads = [threading.Thread(target=_client, args=(address, request, count, latencies, errors, ig_steps))
               for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, ig_steps, time.perf_counter() - start


def load_test(address: str, request: pb.ExplainRequest, clients: int, requests: int) -> dict:
    """Warm up, then the load on the service at `address` (plaintext); returns requests, errors, latency
    percentiles, throughput, IG steps run and this process's RSS growth."""
    _, warm_errors, _, _ = _load(address, request, clients, WARMUP_REQUESTS)
    if warm_errors:
        raise RuntimeError(f"warm-up requests failed: {warm_errors}")
    rss_before = rss_bytes()
    latencies, errors, ig_steps, seconds = _load(address, request, clients, requests)
    rss_after = rss_bytes()
    percentiles = np.percentile(np.array(latencies) * 1000, [50, 95, 99]) if latencies else [float("nan")] * 3
    return {"requests": clients * requests, "errors": len(errors), "error_codes": sorted(set(errors)),
            "p50_ms": round(float(percentiles[0]), 1), "p95_ms": round(float(percentiles[1]), 1),
            "p99_ms": round(float(percentiles[2]), 1), "requests_per_s": round(len(latencies) / seconds, 2),
            "rss_before_mb": round(rss_before / 2**20, 1), "rss_after_mb": round(rss_after / 2**20, 1),
            "rss_growth_pct": round(100 * (rss_after - rss_before) / rss_before, 2), "clients": clients,
            "methods": list(request.methods), "ig_first_steps": IG_STEPS,
            "ig_steps_ran": {str(steps): ig_steps.count(steps) for steps in sorted(set(ig_steps))}}
