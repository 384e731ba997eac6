"""The dashboard's only way to the model: the explain service over gRPC, through the committed stubs.

Every failure becomes a `ServiceProblem` whose message says which part is down (the service, or Triton
behind it) or that the token was refused; pages show it as a banner with a retry button, never a traceback.
"""

from collections.abc import Iterator

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dashboard.settings import DashboardSettings
from explain_service.client import channel
from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc

PROBE_TIMEOUT_S = 3.0
PREDICT_TIMEOUT_S = 30.0
EXPLAIN_TIMEOUT_S = 600.0


class ServiceProblem(Exception):
    """Something between the dashboard and the model is down or refuses us; the message is the banner."""


def problem(exc: grpc.RpcError, settings: DashboardSettings) -> ServiceProblem:
    """A gRPC error as a banner sentence naming the failing part."""
    code, details = exc.code(), exc.details() or ""
    where = f"the explain service at {settings.service}"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        source = f"from {settings.token_file}" if settings.token_file else "none was given (--token-file)"
        return ServiceProblem(f"{where} refused the bearer token ({source}).")
    if code == grpc.StatusCode.UNAVAILABLE and "triton" in details.lower():
        return ServiceProblem(f"Triton is down: {where} cannot reach it ({details}).")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ServiceProblem(f"{where} cannot be reached ({code.name}: {details}).")
    return ServiceProblem(f"{where} answered {code.name}: {details}")


def _metadata(settings: DashboardSettings) -> list[tuple[str, str]] | None:
    token = settings.token()
    return [("authorization", f"Bearer {token}")] if token else None


def probe(settings: DashboardSettings) -> list[pb.ModelInfo]:
    """Check the service, Triton behind it and our token; returns the served model versions."""
    try:
        with channel(settings.service, settings.tls_ca) as open_channel:
            health = health_pb2_grpc.HealthStub(open_channel).Check(health_pb2.HealthCheckRequest(),
                                                                      timeout=PROBE_TIMEOUT_S)
            if health.status != health_pb2.HealthCheckResponse.SERVING:
                raise ServiceProblem(f"Triton is down: the explain service at {settings.service} reports "
                                     "NOT_SERVING because it cannot reach Triton.")
            models = pb_grpc.ExplainServiceStub(open_channel).ListModels(
                pb.ListModelsRequest(), timeout=PROBE_TIMEOUT_S, metadata=_metadata(settings))
    except grpc.RpcError as exc:
        raise problem(exc, settings) from None
    if not models.models:
        raise ServiceProblem(f"Triton is up but serves no version of the model the explain service at "
                             f"{settings.service} explains.")
    return list(models.models)


def explain_stream(settings: DashboardSettings, image: bytes, methods: list[str],
                   version: str = "", allow_out_of_scope: bool = False) -> Iterator[pb.ExplainEvent]:
    """Each map as the service sends it (Grad-CAM first, the fused map last); for an image outside the model's
    intended use, one event without a map unless `allow_out_of_scope`."""
    request = pb.ExplainRequest(image=pb.Image(encoded=image), methods=methods, version=version,
                                allow_out_of_scope=allow_out_of_scope)
    try:
        with channel(settings.service, settings.tls_ca) as open_channel:
            yield from pb_grpc.ExplainServiceStub(open_channel).ExplainStream(
                request, timeout=EXPLAIN_TIMEOUT_S, metadata=_metadata(settings))
    except grpc.RpcError as exc:
        raise problem(exc, settings) from None


class Predictor:
    """Class probabilities for raw pixel arrays through the service's Predict, on one open channel
    (deletion and insertion curves send a few dozen images)."""

    def __init__(self, settings: DashboardSettings, version: str = ""):
        self.settings, self.version = settings, version
        self._channel = channel(settings.service, settings.tls_ca)
        self._stub = pb_grpc.ExplainServiceStub(self._channel)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities [C] of one HxWx3 float32 image in [0, 1]. Deletion and insertion curves send images no
        scanner makes (half-erased ones): they are answered even outside the intended use (research_only)."""
        array = pb.RawArray(data=np.ascontiguousarray(pixels, dtype="<f4").tobytes(), shape=list(pixels.shape),
                            dtype="float32")
        try:
            reply = self._stub.Predict(pb.PredictRequest(image=pb.Image(array=array), version=self.version,
                                                        allow_out_of_scope=True),
                                       timeout=PREDICT_TIMEOUT_S, metadata=_metadata(self.settings))
        except grpc.RpcError as exc:
            raise problem(exc, self.settings) from None
        return np.array([p.probability for p in reply.prediction.probabilities], dtype=np.float32)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
