"""The PACS gateway's Prometheus metrics: what became of the instances each sender (calling AE title) sent, so
drift is seen per source: a modality or a routing rule that starts sending images outside the model's intended
use shows as its own rising `out-of-scope` count. Labels are AE titles and outcomes only, never patient data."""

from prometheus_client import CollectorRegistry, Counter, start_http_server

OUTCOMES = ("explained", "out-of-scope", "already-explained", "not-explained", "failed", "retry")


class GatewayMetrics:
    """Counters in their own registry, served on their own port (`medxai pacs receive --metrics-port`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.instances = Counter("medxai_pacs_instances", "Instances the gateway finished an attempt on, by "
                                                          "calling AE title and outcome.",
                                 ["calling_ae_title", "outcome"], registry=self.registry)
        self._server = None

    def finished(self, calling_ae_title: str, outcome: str) -> None:
        self.instances.labels(calling_ae_title or "unknown", outcome).inc()

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        self._server, _ = start_http_server(port, addr=address, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
