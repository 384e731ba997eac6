"""Prometheus metrics on their own port. Labels are RPC names, status codes, stages and model identity only:
nothing a request carries (no ids, no hashes of inputs, no patient data) ever becomes a label."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

STAGES = ("decode", "predict", "cam", "gradcam", "gradcam++", "hirescam", "layercam", "ig", "lime", "fusion",
          "metrics")
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
        self.model = Info("medxai_explain_model", "The model this service explains.", registry=self.registry)
        self._server = None

    def finished(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        if code != "OK":
            self.errors.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def stage(self, stage: str, seconds: float) -> None:
        self.stages.labels(stage).observe(seconds)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        self._server, _ = start_http_server(port, addr=address, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
