"""A small client of the explain service, for scripts, the demo and the dashboard: send an image file, receive
the streamed maps (Grad-CAM first), save them. Bearer token and TLS optional."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc


def channel(address: str, tls_ca: Path | None = None) -> grpc.Channel:
    """A plaintext channel, or a TLS one trusting `tls_ca`."""
    if tls_ca is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=tls_ca.read_bytes()))


def service_serving(address: str) -> bool:
    """Whether the explain service at `address` (plaintext) answers its health check with SERVING."""
    with grpc.insecure_channel(address) as health_channel:
        try:
            reply = health_pb2_grpc.HealthStub(health_channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def explain_request(image: Path, methods: list[str], overlays: bool = True, allow_out_of_scope: bool = False
                    ) -> pb.ExplainRequest:
    """An ExplainRequest carrying the file's bytes (PNG, JPEG or DICOM) as they are."""
    return pb.ExplainRequest(image=pb.Image(encoded=image.read_bytes()), methods=methods, overlays=overlays,
                             allow_out_of_scope=allow_out_of_scope)


def stream(address: str, request: pb.ExplainRequest, token: str | None = None, tls_ca: Path | None = None,
           timeout_s: float = 300.0) -> Iterator[tuple[float, pb.ExplainEvent]]:
    """(seconds since the call began, event) for each map as the service sends it."""
    metadata = [("authorization", f"Bearer {token}")] if token else None
    start = time.perf_counter()
    with channel(address, tls_ca) as open_channel:
        events = pb_grpc.ExplainServiceStub(open_channel).ExplainStream(request, timeout=timeout_s, metadata=metadata)
        for event in events:
            yield time.perf_counter() - start, event


def save_event(event: pb.ExplainEvent, out: Path) -> dict:
    """Writes `<method>.npy` (the map in [0, 1]) and `<method>.png` (its overlay, when sent); returns a summary."""
    saliency = np.frombuffer(event.map.data, dtype=np.uint8).reshape(tuple(event.map.shape)) / 255.0
    np.save(out / f"{event.map.method}.npy", saliency.astype(np.float32))
    if event.map.overlay_png:
        (out / f"{event.map.method}.png").write_bytes(event.map.overlay_png)
    return {"method": event.map.method, "seconds": round(event.map.seconds, 3),
            "diagnostics": dict(event.map.diagnostics)} | ({"undefined": dict(event.map.undefined)}
                                                           if event.map.undefined else {})


def explain_to_folder(address: str, image: Path, out: Path, methods: list[str], token: str | None = None,
                      tls_ca: Path | None = None, log=print, allow_out_of_scope: bool = False) -> dict:
    """Stream one image's explanation into `out` (maps, overlays, response.json); returns the summary (its
    "scope" says whether the image was within the model's intended use; outside it, no maps come unless
    `allow_out_of_scope`)."""
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"address": address, "image": str(image), "maps": []}
    for elapsed, event in stream(address, explain_request(image, methods, allow_out_of_scope=allow_out_of_scope),
                                 token, tls_ca):
        if "prediction" not in summary:
            probabilities = {p.name: round(p.probability, 4) for p in event.prediction.probabilities}
            scope = event.prediction.scope
            summary |= {"request_id": event.request_id, "prediction": probabilities,
                        "predicted": event.model.class_names[event.prediction.predicted] if probabilities else None,
                        "scope": {"in_scope": scope.in_scope, "reason": scope.reason,
                                  "prediction_set": list(scope.prediction_set), "refer": scope.refer},
                        "model": {"name": event.model.name, "version": event.model.version,
                                  "checkpoint_sha256": event.model.checkpoint_sha256}}
            if event.prediction.input_warnings:
                summary["input_warnings"] = list(event.prediction.input_warnings)
            for note in event.prediction.input_warnings:
                log(f"warning: {note}")
            if not scope.in_scope:
                log(f"not assessed: {scope.reason}")
        if not event.HasField("map"):  # outside the intended use: no maps come
            continue
        summary["maps"].append(save_event(event, out) | {"received_after_s": round(elapsed, 3)})
        log(f"{event.map.method:8s} received after {elapsed:6.2f} s")
    (out / "response.json").write_text(json.dumps(summary, indent=2))
    return summary
