"""Prometheus metrics on their own port. Labels are RPC names, status codes, stages and model identity only:
nothing a request carries (no ids, no hashes of inputs, no patient data) ever becomes a label."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

STAGES = ("decode", "predict", "cam", "gradcam", "gradcam++", "hirescam", "layercam", "ig", "lime", "fusion",
          "metrics")
OOD_BUCKETS = (0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536)
"""Squared Mahalanobis distance: the threshold of a model sits near its feature dimension (512 to 2048)."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """The service's metrics in their own registry (two services in one process, as in tests, never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("medxai_explain_requests", "Requests answered, by RPC and gRPC status code.",
                                ["method", "code"], registry=self.registry)
        self.errors = Counter("medxai_explain_errors", "Requests answered with a status other than OK.",
                              ["method", "code"], registry=self.registry)
        self.latency = Histogram("medxai_explain_request_seconds", "Request latency by RPC.", ["method"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.stages = Histogram("medxai_explain_stage_seconds", "Time per pipeline stage.", ["stage"],
                                buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("medxai_explain_in_flight", "Requests being worked on now.", registry=self.registry)
        # drift: the OOD score's distribution and the out-of-scope and referral rates, per served model version
        self.ood_score = Histogram("medxai_ood_score", "Out-of-distribution score of each assessed image.",
                                   ["model", "version"], buckets=OOD_BUCKETS, registry=self.registry)
        self.assessed_images = Counter("medxai_assessed_images", "Images assessed for scope.", ["model", "version"],
                                       registry=self.registry)
        self.out_of_scope = Counter("medxai_out_of_scope", "Images outside the model's intended use, by why: "
                                                           "ood (score over the threshold) or intended_use (DICOM "
                                                           "tags or colour that contradict it).",
                                    ["model", "version", "reason"], registry=self.registry)
        self.validation_refused = Gauge("medxai_scope_validation_refused_ratio",
                                        "Share of the validation images the OOD threshold refused when the model "
                                        "was trained: the out-of-scope rate of a stream like the training data.",
                                        ["model"], registry=self.registry)
        self.referred = Counter("medxai_referred", "Answers whose prediction set holds more than one class.",
                                ["model", "version"], registry=self.registry)
        self.model = Info("medxai_explain_model", "The model this service explains.", registry=self.registry)
        self._server = None

    def finished(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        if code != "OK":
            self.errors.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def assessed(self, model: str, version: str, assessment) -> None:
        """Count one image's scope (`medxai.scope.Assessment`). Every counter of the version starts at 0 with its
        first image, so rates over them exist before the first refusal."""
        self.assessed_images.labels(model, version).inc()
        for reason in ("ood", "intended_use"):
            self.out_of_scope.labels(model, version, reason)
        self.referred.labels(model, version)
        if assessment.ood_score is not None:
            self.ood_score.labels(model, version).observe(assessment.ood_score)
        if not assessment.in_scope:
            self.out_of_scope.labels(model, version,
                                     "ood" if "OOD score" in assessment.reason else "intended_use").inc()
        elif len(assessment.prediction_set) > 1:
            self.referred.labels(model, version).inc()

    def stage(self, stage: str, seconds: float) -> None:
        self.stages.labels(stage).observe(seconds)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        self._server, _ = start_http_server(port, addr=address, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
