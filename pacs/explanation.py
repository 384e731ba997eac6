"""One source instance explained by the explain service, over gRPC as the dashboard does (never model code).

The DICOM file goes to the service as it is (the service decodes it: modality LUT, VOI, polarity); what comes back
is the prediction, the model's identity and one map per method at the model's input size.
"""

from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from explain_service.client import channel, stream
from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from medxai.errors import UserError

METHODS = ("cam", "ig", "lime", "fusion")
"""The maps the explain service serves by default (its class-activation map, IG, LIME, the fused map)."""


@dataclass(frozen=True)
class ServiceSettings:
    """Where the explain service is, and how much work each explanation costs."""
    address: str = "127.0.0.1:50051"
    token: str | None = None
    tls_ca: Path | None = None
    methods: tuple[str, ...] = METHODS
    ig_steps: int = 0  # 0: the service's default
    lime_samples: int = 0
    timeout_s: float = 600.0


@dataclass
class Model:
    """The served model version an explanation comes from."""
    model_name: str
    model_version: str
    checkpoint_sha256: str
    class_names: list[str]


@dataclass
class Explanation(Model):
    """What the service said about one image."""
    request_id: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted: str = ""
    target: str = ""
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    """Per method, the map as float32 HxW in [0, 1] at the model's input size; the fused map is 'fusion'."""
    diagnostics: dict[str, dict[str, float]] = field(default_factory=dict)
    in_scope: bool = True
    """False: outside the model's intended use (`scope_reason` says why); no probabilities and no maps came."""
    scope_reason: str = ""
    ood_score: float | None = None
    """The out-of-distribution score and its threshold, when the score was computed (None: refused by the intended
    use before inference, or a service older than scopes)."""
    ood_threshold: float | None = None
    prediction_set: list[str] = field(default_factory=list)
    """The classes conformal prediction cannot rule out at error rate `alpha`, most probable first."""
    alpha: float = 0.0
    refer: str = ""
    intended_use: str = ""

    @property
    def ig_completeness_gap(self) -> float | None:
        return self.diagnostics.get("ig", {}).get("completeness_gap")

    @property
    def lime_r2(self) -> float | None:
        return self.diagnostics.get("lime", {}).get("r2")


class ServiceUnavailable(Exception):
    """The explain service (or Triton behind it) cannot be reached now; the work is retried later."""


TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)


def _failure(settings: ServiceSettings, exc: grpc.RpcError) -> Exception:
    message = f"the explain service at {settings.address} answered {exc.code().name}: {exc.details()}"
    return ServiceUnavailable(message) if exc.code() in TRANSIENT else UserError(message)


def served_model(settings: ServiceSettings) -> Model:
    """The newest model version the service explains (what an ExplainRequest without a version gets)."""
    try:
        with channel(settings.address, settings.tls_ca) as open_channel:
            reply = pb_grpc.ExplainServiceStub(open_channel).ListModels(
                pb.ListModelsRequest(), timeout=30, metadata=_metadata(settings))
    except grpc.RpcError as exc:
        raise _failure(settings, exc) from None
    if not reply.models:
        raise ServiceUnavailable(f"the explain service at {settings.address} serves no model version now")
    newest = max(reply.models, key=lambda info: (len(info.version), info.version))
    return Model(newest.name, newest.version, newest.checkpoint_sha256, list(newest.class_names))


def _metadata(settings: ServiceSettings) -> list[tuple[str, str]] | None:
    return [("authorization", f"Bearer {settings.token}")] if settings.token else None


def explain_dicom(settings: ServiceSettings, dicom: bytes, version: str = "") -> Explanation:
    """Send one DICOM file's bytes to ExplainStream and gather every map. An unreachable service raises
    ServiceUnavailable; anything else it refuses (an image it cannot read) a UserError."""
    request = pb.ExplainRequest(image=pb.Image(encoded=dicom), methods=list(settings.methods), overlays=False,
                                version=version,
                                ig=pb.IntegratedGradientsSettings(steps=settings.ig_steps),
                                lime=pb.LimeSettings(samples=settings.lime_samples, seed=0))
    result: Explanation | None = None
    try:
        for _, event in stream(settings.address, request, settings.token, settings.tls_ca, settings.timeout_s):
            if result is None:
                names, scope = list(event.model.class_names), event.prediction.scope
                in_scope = not event.prediction.HasField("scope") or scope.in_scope
                result = Explanation(
                    model_name=event.model.name, model_version=event.model.version,
                    checkpoint_sha256=event.model.checkpoint_sha256, class_names=names, request_id=event.request_id,
                    probabilities={p.name: float(p.probability) for p in event.prediction.probabilities},
                    predicted=names[event.prediction.predicted] if in_scope else "",
                    target=names[event.prediction.target] if in_scope else "", in_scope=in_scope,
                    scope_reason=scope.reason, prediction_set=list(scope.prediction_set), alpha=scope.alpha,
                    refer=scope.refer, intended_use=event.model.intended_use,
                    ood_score=scope.ood_score if scope.HasField("ood_score") else None,
                    ood_threshold=scope.threshold if scope.HasField("threshold") else None)
            if not event.HasField("map"):  # outside the intended use: the one event has no map
                continue
            saliency = np.frombuffer(event.map.data, dtype=np.uint8).reshape(tuple(event.map.shape))
            result.maps[event.map.method] = (saliency / np.float32(255)).astype(np.float32)
            result.diagnostics[event.map.method] = dict(event.map.diagnostics)
    except grpc.RpcError as exc:
        raise _failure(settings, exc) from None
    if result is None or (result.in_scope and not result.maps):
        raise UserError(f"the explain service at {settings.address} sent no map.")
    return result
