"""The dashboard against the real explain service and Triton (the service tests' session fixtures): settings
go to the app through MEDXAI_DASHBOARD_* variables, as `medxai dashboard` passes them to `streamlit run`."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.settings import DashboardSettings
from tests.explain_service.conftest import (held_out, in_scope, lesion_image, make_service, repository,  # noqa: F401
                                            service, triton)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
RUN_TIMEOUT_S = 300


def use_settings(monkeypatch, settings: DashboardSettings) -> DashboardSettings:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def dashboard_settings(monkeypatch, service, triton, repository, phantom_dir, tmp_path) -> DashboardSettings:
    """Settings pointing at the session's real service and Triton, a worklist and a fresh ratings database."""
    return use_settings(monkeypatch, DashboardSettings(
        service=f"127.0.0.1:{service.port}", model_repository=repository, worklist=phantom_dir,
        service_metrics=f"http://127.0.0.1:{service.config.metrics_port}/metrics", triton_metrics=triton.metrics_url,
        ratings_db=tmp_path / "ratings.sqlite"))


def open_page(page: str) -> AppTest:
    """The app run once, then switched to `page` (e.g. "pages/review.py") and run again."""
    app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S).run()
    return app.switch_page(page).run()
