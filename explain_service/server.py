"""The gRPC server: one lifecycle for every request (auth by interceptor; a concurrency slot; validation;
the engine; audit line on disk before the response leaves; metrics), health checking and reflection.

Errors a client causes become INVALID_ARGUMENT with the reason; Triton trouble becomes UNAVAILABLE at once;
a full server answers RESOURCE_EXHAUSTED with a retry hint; work stops when the client gives up, or at the
server's own deadline when the client set none. Each request's cost is bounded before any work: model passes
by the work budget, decoding memory by the pixel cap the memory budget gives, message size by the message limit.
"""

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from explain_service import encoding, validation
from explain_service.audit import AuditLog
from explain_service.auth import TokenAuth, caller_identity, load_secret, server_credentials
from explain_service.engine import Engine, RequestFailed
from explain_service.metrics import ServiceMetrics
from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from medxai.errors import UserError
from medxai.scope import Assessment, assess
from medxai.scope.intended_use import DEFAULT_TAG_RULE, TAG_RULES, tag_values

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ExplainService"].full_name
RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"
"""The key gRPC clients' retry policies read for how long to wait before retrying."""
HEALTH_POLL_S = 2.0
TRANSPORT_LIMIT_FACTOR = 2
"""gRPC itself reads messages up to this many times the message limit, so that those over the limit reach our
handlers and are counted and audited; beyond it gRPC refuses them before any of our code sees them."""
log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """Everything `medxai serve` sets by flag or environment variable."""

    checkpoint: Path
    triton_url: str
    model: str
    port: int = 50051
    metrics_port: int = 9100
    health_port: int | None = None
    """A plaintext port that serves health checks only (kubelet probes speak no TLS), on its own threads."""
    host: str = "127.0.0.1"
    audit_log: Path = Path("audit.jsonl")
    secret_file: Path | None = None
    """The fingerprint secret (see `auth.load_secret`); default: `audit-secret.key` beside the audit log."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tokens: list[str] = field(default_factory=list)
    insecure: bool = False
    max_concurrent: int = 8
    max_message_mb: int = 32
    memory_budget_mb: int = 4096
    """Memory for decoding: `max_concurrent` images of the largest size it allows fit in it. Half the pod's
    8 GiB limit (k8s/base/explain-service.yaml); the rest is the model, LIME's batches and the runtime."""
    work_budget: int = validation.DEFAULT_WORK_BUDGET
    default_deadline_s: float = 300.0
    triton_timeout_s: float = 10.0
    retry_after_ms: int = 1000
    precision: str = "auto"
    device: str = "cpu"
    dicom_tags: str = DEFAULT_TAG_RULE
    """Refuse DICOM images whose Modality or Body Part Examined contradicts the intended use (contradiction),
    is empty too (strict), or ignore the tags (off): `medxai.scope.intended_use.TAG_RULES`."""

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise UserError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise UserError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
        if self.tokens and not self.tls_cert and not self.insecure:
            raise UserError("bearer tokens over plaintext can be read by anyone on the path: give --tls-cert and "
                            "--tls-key, or --insecure to accept that")
        if self.dicom_tags not in TAG_RULES:
            raise UserError(f"the DICOM tag rule must be one of {', '.join(TAG_RULES)}, got '{self.dicom_tags}'")
        if self.max_concurrent < 1 or self.max_message_mb < 1 or self.default_deadline_s <= 0:
            raise UserError("max concurrency, message size and default deadline must be positive")
        if not 1 <= self.work_budget <= validation.MAX_WORK_BUDGET:
            raise UserError(f"the work budget must be in [1, {validation.MAX_WORK_BUDGET}] model passes, "
                            f"got {self.work_budget}")
        if self.max_pixels < 64 * 64:
            raise UserError(f"a memory budget of {self.memory_budget_mb} MB leaves {self.max_pixels} pixels per "
                            f"image for {self.max_concurrent} concurrent requests: raise it or lower concurrency")
        self.secret_file = self.secret_file or Path(self.audit_log).parent / "audit-secret.key"

    @property
    def max_pixels(self) -> int:
        return validation.max_pixels(self.memory_budget_mb, self.max_concurrent)


class Call:
    """One request in flight: its id, the record the audit trail gets, stage timings, liveness."""

    def __init__(self, rpc: str, context: grpc.ServicerContext, audit: AuditLog, metrics: ServiceMetrics,
                 caller: str, default_deadline_s: float | None = None):
        self.rpc, self.context, self._audit, self._metrics = rpc, context, audit, metrics
        self.request_id = uuid.uuid4().hex
        self.started = time.perf_counter()
        # The server's own deadline applies when the client set none (gRPC then reports some 2**63 s remaining)
        # or a later one; gRPC enforces the client's.
        self.default_deadline_s = default_deadline_s \
            if default_deadline_s is not None and context.time_remaining() > default_deadline_s else None
        self.seconds: dict[str, float] = {}
        self.record: dict = {"request_id": self.request_id, "rpc": rpc, "caller": caller}
        self.committed = False

    def alive(self) -> None:
        """Raise when the client has cancelled or a deadline has passed, so no more work is done for it."""
        if not self.context.is_active():
            raise RequestFailed(grpc.StatusCode.CANCELLED, "the client cancelled or its deadline passed")
        if self.default_deadline_s is not None and time.perf_counter() - self.started > self.default_deadline_s:
            raise RequestFailed(grpc.StatusCode.DEADLINE_EXCEEDED,
                                f"the server's deadline of {self.default_deadline_s:g} s passed (it applies to "
                                f"requests without a deadline or with a later one): ask for less work")

    def timed_stage(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self._metrics.stage(stage, seconds)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timed_stage(name, time.perf_counter() - start)

    def commit(self, code: grpc.StatusCode = grpc.StatusCode.OK) -> None:
        """Write the audit line (once). Called before the last message leaves; errors call it on their way out."""
        if self.committed:
            return
        self.committed = True
        self._audit.write(self.record | {"status": code.name, "stage_seconds": self.seconds,
                                         "duration_s": round(time.perf_counter() - self.started, 6)})


class ExplainServicer(pb_grpc.ExplainServiceServicer):
    def __init__(self, engine: Engine, audit: AuditLog, metrics: ServiceMetrics, config: ServiceConfig,
                 secret: bytes):
        self.engine, self.audit, self.metrics, self.config, self.secret = engine, audit, metrics, config, secret
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._active = 0  # handlers running, rejections included; `drain` waits for none
        self._idle = threading.Condition()

    def drain(self, timeout_s: float) -> bool:
        """Wait until no handler runs. gRPC counts an RPC as over when its client gives up, but its handler
        runs on until its next liveness check and still writes its audit line."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout_s)

    @contextmanager
    def _request(self, rpc: str, context: grpc.ServicerContext, request) -> Iterator[Call]:
        """The lifecycle around every RPC; status codes, audit and metrics are settled here and only here."""
        call = Call(rpc, context, self.audit, self.metrics, caller_identity(context, self.secret),
                    self.config.default_deadline_s)
        code, message = grpc.StatusCode.OK, ""
        size, limit = request.ByteSize(), self.config.max_message_mb * 2**20
        with self._idle:
            self._active += 1
        acquired = size <= limit and self._slots.acquire(blocking=False)
        if acquired:
            self.metrics.in_flight.inc()
        try:
            if size > limit:
                raise RequestFailed(grpc.StatusCode.RESOURCE_EXHAUSTED, f"request of {size / 2**20:.1f} MB exceeds "
                                                                        f"the limit of {self.config.max_message_mb} MB")
            if not acquired:
                raise RequestFailed(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"server busy ({self.config.max_concurrent} requests in flight); retry in "
                                    f"{self.config.retry_after_ms} ms")
            yield call
        except UserError as exc:
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        except RequestFailed as exc:
            code, message = exc.code, str(exc)
        except GeneratorExit:  # a stream's client went away between two events
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            raise
        finally:
            if acquired:
                self._slots.release()
                self.metrics.in_flight.dec()
            # Error messages stay out of the audit: a decoder's message may quote file contents.
            call.commit(code)
            self.metrics.finished(rpc, code.name, time.perf_counter() - call.started)
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and size <= limit:
            context.set_trailing_metadata(((RETRY_PUSHBACK_KEY, str(self.config.retry_after_ms)),))
        if code != grpc.StatusCode.OK:
            context.abort(code, message)

    def _model(self, request) -> tuple[str, pb.ModelInfo]:
        """The checked Triton version for this request and its description."""
        if request.model and request.model != self.engine.model_name:
            raise RequestFailed(grpc.StatusCode.NOT_FOUND, f"this service explains '{self.engine.model_name}', "
                                                           f"not '{request.model}'")
        version = self.engine.served_version(request.version)
        return version, encoding.model_message(self.engine.model_name, version, self.engine.checkpoint_sha256,
                                               self.engine.info)

    def _predict(self, request, call: Call, target: int | None = None):
        """Decode, check the model, check the scope, predict: (pixels, version, model message, prediction message).
        An image outside the intended use (its DICOM tags, before inference; or its OOD score) gets a prediction
        with its scope and no probabilities, unless the request allows it (then marked research_only)."""
        with call.stage("decode"):
            pixels, raw, notes = validation.decode_image(request.image, self.engine.info.image_size,
                                                         self.config.max_pixels)
        call.record["input_sha256"] = hashlib.sha256(raw).hexdigest()
        version, model = self._model(request)
        call.record["model"] = {"name": model.name, "version": version, "checkpoint_sha256": model.checkpoint_sha256}
        call.alive()
        scope, allowed = self.engine.scope, request.allow_out_of_scope
        tags = tag_values(raw) if scope is not None and request.image.WhichOneof("source") == "encoded" else None
        refusal = scope.intended_use.refusal(pixels, tags, self.config.dicom_tags) if scope is not None else None
        probabilities = None
        if refusal and not allowed:
            assessment = Assessment(in_scope=False, reason=refusal)
        else:
            with call.stage("predict"):
                probabilities, ood = self.engine.predict_scoped(pixels[None], version)
            probabilities = probabilities[0]
            assessment = assess(scope, probabilities, self.engine.info.class_names,
                                None if ood is None else float(ood[0]), self.engine.info.multi_label)
            if refusal:
                assessment.in_scope, assessment.reason, assessment.prediction_set, assessment.refer = \
                    False, refusal, [], ""
        self.metrics.assessed(model.name, version, assessment)
        call.record["scope"] = {"in_scope": assessment.in_scope, "reason": assessment.reason,
                                "ood_score": assessment.ood_score, "prediction_set": assessment.prediction_set}
        answered = assessment.in_scope or allowed
        if answered:
            prediction = encoding.prediction_message(probabilities, self.engine.info.class_names,
                                                     int(probabilities.argmax()) if target is None else target)
            call.record["prediction"] = {"probabilities": {p.name: round(p.probability, 6)
                                                           for p in prediction.probabilities},
                                         "predicted": prediction.predicted, "target": prediction.target}
        else:
            prediction = pb.Prediction()
        prediction.scope.CopyFrom(encoding.scope_message(assessment, research_only=not assessment.in_scope and allowed))
        prediction.input_warnings.extend(notes)  # to the client only: like errors, they may quote the file
        return pixels, version, model, prediction

    def Predict(self, request: pb.PredictRequest, context: grpc.ServicerContext) -> pb.PredictResponse:
        with self._request("Predict", context, request) as call:
            _, _, model, prediction = self._predict(request, call)
            response = pb.PredictResponse(request_id=call.request_id, prediction=prediction, model=model,
                                          seconds=call.seconds)
            call.commit()
            return response

    def _maps(self, request: pb.ExplainRequest, call: Call) -> Iterator[tuple[pb.Prediction, pb.ModelInfo, pb.Map]]:
        """The prediction, the model and each map as it is ready; the audit line is written before the last."""
        settings = validation.explain_settings(request, self.engine.info.num_classes, self.config.work_budget)
        call.record["settings"] = settings.audit()
        pixels, version, model, prediction = self._predict(request, call, settings.target)
        if not prediction.probabilities:  # outside the intended use: no maps, the scope says why
            call.commit()
            yield prediction, model, None
            return
        for index, result in enumerate(self.engine.explain(pixels, prediction.target, settings, version, call.alive)):
            call.timed_stage(result.method, result.seconds)
            message = encoding.map_message(result, pixels, settings.overlays)
            if settings.faithfulness:
                call.alive()
                with call.stage("metrics"):
                    message.diagnostics.update(self.engine.faithfulness(pixels, prediction.target, result.maps[0],
                                                                        version))
            call.record.setdefault("diagnostics", {})[result.method] = dict(message.diagnostics) | (
                {"undefined": dict(message.undefined)} if message.undefined else {})
            if index == len(settings.methods) - 1:
                call.commit()
            yield prediction, model, message

    def Explain(self, request: pb.ExplainRequest, context: grpc.ServicerContext) -> pb.ExplainResponse:
        with self._request("Explain", context, request) as call:
            response = pb.ExplainResponse(request_id=call.request_id)
            for prediction, model, message in self._maps(request, call):
                response.prediction.CopyFrom(prediction)
                response.model.CopyFrom(model)
                if message is None:
                    break
                response.maps.append(message)
                if message.method == "ig" and "completeness_gap" in message.diagnostics:  # absent: undefined
                    response.ig_completeness_gap = message.diagnostics["completeness_gap"]
                if message.method == "lime" and "r2" in message.diagnostics:
                    response.lime_r2 = message.diagnostics["r2"]
            response.seconds.update(call.seconds)
            return response

    def ExplainStream(self, request: pb.ExplainRequest, context: grpc.ServicerContext) -> Iterator[pb.ExplainEvent]:
        with self._request("ExplainStream", context, request) as call:
            for index, (prediction, model, message) in enumerate(self._maps(request, call)):
                event = pb.ExplainEvent(request_id=call.request_id, map=message)  # map None: out of scope
                if index == 0:
                    event.prediction.CopyFrom(prediction)
                    event.model.CopyFrom(model)
                yield event

    def ListModels(self, request: pb.ListModelsRequest, context: grpc.ServicerContext) -> pb.ListModelsResponse:
        with self._request("ListModels", context, request) as call:
            versions = [version for version in self.engine.ready_versions() if self.engine.matches(version)]
            response = pb.ListModelsResponse(models=[
                encoding.model_message(self.engine.model_name, version, self.engine.checkpoint_sha256,
                                       self.engine.info) for version in versions])
            call.commit()
            return response


class ExplainServer:
    """The service with its metrics endpoint and Triton watcher; `start()`, `stop()`, or use as a context manager."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.engine = Engine(config.checkpoint, config.triton_url, config.model, config.triton_timeout_s,
                             config.precision, config.device)
        self.audit = AuditLog(config.audit_log)
        self.secret = load_secret(config.secret_file)
        self.metrics = ServiceMetrics()
        if (scope := self.engine.scope) is not None and scope.validation:
            self.metrics.validation_refused.labels(config.model).set(1 - scope.validation.get("accepted", scope.accept))
        self.metrics.model.info({"name": config.model, "checkpoint_sha256": self.engine.checkpoint_sha256,
                                 "architecture": self.engine.info.architecture})
        self.health = health.HealthServicer()
        limit = config.max_message_mb * 1024 * 1024
        interceptors = [TokenAuth(config.tokens, self._refused)] if config.tokens else []
        # Threads beyond max_concurrent only answer RESOURCE_EXHAUSTED; gRPC itself refuses past the cap.
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.max_concurrent + 4),
                                  interceptors=interceptors, maximum_concurrent_rpcs=config.max_concurrent + 32,
                                  options=[("grpc.max_receive_message_length", TRANSPORT_LIMIT_FACTOR * limit),
                                           ("grpc.max_send_message_length", limit)])
        self.servicer = ExplainServicer(self.engine, self.audit, self.metrics, config, self.secret)
        pb_grpc.add_ExplainServiceServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        target = f"{config.host}:{config.port}"
        if config.tls_cert:
            self.port = self.server.add_secure_port(target, server_credentials(config.tls_cert, config.tls_key,
                                                                               config.tls_client_ca))
        else:
            self.port = self.server.add_insecure_port(target)
        if not self.port:
            raise UserError(f"cannot listen on {target} (port in use?)")
        self.health_server = None
        if config.health_port is not None:
            self.health_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            if not self.health_server.add_insecure_port(f"{config.host}:{config.health_port}"):
                raise UserError(f"cannot listen on {config.host}:{config.health_port} (port in use?)")
        self._stop = threading.Event()

    def _refused(self, rpc: str, context: grpc.ServicerContext) -> None:
        """Audit and count a refused call; its wrong token is nobody's, so no fingerprint of it is kept."""
        Call(rpc, context, self.audit, self.metrics, caller_identity(context, None)).commit(
            grpc.StatusCode.UNAUTHENTICATED)
        self.metrics.finished(rpc, grpc.StatusCode.UNAUTHENTICATED.name, 0.0)

    def start(self) -> "ExplainServer":
        if self.config.tokens and not self.config.tls_cert:
            log.warning("--insecure: bearer tokens travel in plaintext to %s:%s", self.config.host, self.port)
        self.metrics.serve(self.config.metrics_port, self.config.host)
        self.server.start()
        if self.health_server is not None:
            self.health_server.start()
        threading.Thread(target=self._watch_triton, daemon=True).start()
        return self

    def _watch_triton(self) -> None:
        """Health follows Triton: NOT_SERVING while it cannot be reached, so orchestrators route elsewhere."""
        while not self._stop.is_set():
            status = health_pb2.HealthCheckResponse.SERVING if self.engine.triton_ready() \
                else health_pb2.HealthCheckResponse.NOT_SERVING
            for service in ("", SERVICE_NAME):
                self.health.set(service, status)
            self._stop.wait(HEALTH_POLL_S)

    def wait(self) -> None:
        self.server.wait_for_termination()

    def stop(self, grace_s: float = 5.0) -> None:
        """Finish in-flight requests (their audit lines included) for up to `grace_s`, then close."""
        deadline = time.monotonic() + grace_s
        self._stop.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()
        if self.health_server is not None:
            self.health_server.stop(0)
        self.servicer.drain(max(0.0, deadline - time.monotonic()))
        self.metrics.stop()
        self.audit.close()

    def __enter__(self) -> "ExplainServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
