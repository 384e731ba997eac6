"""When the service is unreachable, Triton is down behind it, or the token is refused, every page that needs
the service shows a banner naming the failing part and a retry button, never a traceback."""

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dashboard.settings import DashboardSettings
from medxai.triton_server import free_port
from tests.cli import assert_help_with_example, assert_user_error, medxai
from tests.dashboard.conftest import open_page, use_settings

PAGES = ["pages/review.py", "pages/models.py"]


def banner_of(app) -> str:
    assert not app.exception, app.exception
    assert [button.label for button in app.button] == ["Retry"]
    return app.error[0].value


@pytest.mark.parametrize("page", PAGES)
def test_unreachable_service(monkeypatch, tmp_path, page):
    use_settings(monkeypatch, DashboardSettings(service=f"127.0.0.1:{free_port()}",
                                                ratings_db=tmp_path / "r.sqlite"))
    assert "cannot be reached" in banner_of(open_page(page))


def test_refused_token(monkeypatch, tmp_path, triton, make_service):
    service = make_service(triton.grpc_url, tokens=["right-token"], insecure=True)  # plaintext on loopback
    token_file = tmp_path / "token"
    token_file.write_text("wrong-token\n")
    use_settings(monkeypatch, DashboardSettings(service=f"127.0.0.1:{service.port}", token_file=token_file,
                                                ratings_db=tmp_path / "r.sqlite"))
    app = open_page("pages/review.py")
    assert "refused the bearer token" in banner_of(app) and str(token_file) in app.error[0].value
    token_file.write_text("right-token\n")
    app.button[0].click().run()  # retry with the right token: the page is back
    assert not app.error and app.get("file_uploader")


def test_triton_down(monkeypatch, tmp_path, make_service):
    service = make_service(f"127.0.0.1:{free_port()}")  # nothing listens there
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while health.Check(health_pb2.HealthCheckRequest(), timeout=10).status != \
                health_pb2.HealthCheckResponse.NOT_SERVING:
            time.sleep(0.2)
    use_settings(monkeypatch, DashboardSettings(service=f"127.0.0.1:{service.port}",
                                                ratings_db=tmp_path / "r.sqlite"))
    assert "Triton is down" in banner_of(open_page("pages/models.py"))


def test_monitoring_without_endpoints_warns(monkeypatch, tmp_path):
    use_settings(monkeypatch, DashboardSettings(service=f"127.0.0.1:{free_port()}",
                                                ratings_db=tmp_path / "r.sqlite"))
    app = open_page("pages/monitoring.py")
    assert not app.exception and len(app.main.warning) == 2 and "cannot be read" in app.main.warning[0].value


def test_dashboard_command_help_and_user_errors(tmp_path):
    assert_help_with_example("dashboard")
    assert_user_error(medxai("dashboard", "--token-file", str(tmp_path / "missing")), "file not found")
    assert_user_error(medxai("dashboard", "--local-stack", "--workdir", str(tmp_path)), "no checkpoint at")
