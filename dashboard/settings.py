"""Where the dashboard finds its services and stores its ratings. `medxai dashboard` passes them to
`streamlit run` as environment variables, so every page (and a test's AppTest) reads the same settings."""

import os
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "MEDXAI_DASHBOARD_"


@dataclass(frozen=True)
class DashboardSettings:
    service: str = "127.0.0.1:50051"
    token_file: Path | None = None
    tls_ca: Path | None = None
    prometheus: str | None = None
    """Prometheus HTTP API base URL; without it the /metrics endpoints below are scraped."""
    service_metrics: str | None = None
    """Default: http://<service host>:9100/metrics."""
    triton_metrics: str | None = None
    """Default: http://<service host>:8002/metrics."""
    model_repository: Path | None = None
    """Triton's repository folder, read for each version's provenance (checkpoint, release gate)."""
    worklist: Path | None = None
    """A labelled folder whose images can be picked for review."""
    ratings_db: Path = Path("ratings.sqlite")
    pacs: str | None = None
    """A PACS's DICOMweb root URL: its studies can be picked for review, with the results medxai stored there."""
    pacs_user: str | None = None
    pacs_password_file: Path | None = None
    pacs_audit_log: Path | None = None
    """The PACS gateway's audit trail: the worklist says which images it did not explain, and why."""

    def to_env(self) -> dict[str, str]:
        return {PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "DashboardSettings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw:
                values[f.name] = Path(raw) if "Path" in str(f.type) else raw
        return cls(**values)

    @property
    def service_host(self) -> str:
        return self.service.rsplit(":", 1)[0]

    def metrics_urls(self) -> dict[str, str]:
        """The /metrics endpoints scraped when no Prometheus is given."""
        return {"service": self.service_metrics or f"http://{self.service_host}:9100/metrics",
                "triton": self.triton_metrics or f"http://{self.service_host}:8002/metrics"}

    def token(self) -> str | None:
        if self.token_file is None:
            return None
        return self.token_file.read_text().strip() or None
