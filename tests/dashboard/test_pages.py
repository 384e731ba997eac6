"""Each page against the real service and Triton (AppTest): rating a streamed case (named and blinded), the
report over stored ratings, monitoring from the live /metrics endpoints, and the models Triton serves."""

import dataclasses
import json
import shutil
import subprocess
import time
import urllib.parse

import numpy as np
import pandas as pd
import pytest

from dashboard.connection import Predictor
from dashboard.monitoring import prometheus_panels
from dashboard.ratings import Rating, RatingStore
from dashboard.settings import DashboardSettings
from medxai.triton_server import free_port
from tests.dashboard.conftest import open_page, use_settings


def reviewed_case(image: bytes, reviewer: str = "dr_a"):
    """The app after a phantom was uploaded and explained on the review page, switched to Rating."""
    app = open_page("pages/review.py")
    app.sidebar.text_input(key="reviewer_name").input(reviewer)
    app.file_uploader(key="upload").set_value(("scan.png", image, "image/png"))
    app.run()
    assert app.session_state["case"].complete, app.error
    return app.switch_page("pages/rating.py").run()


def test_rating_a_streamed_case_is_stored_and_acknowledged(dashboard_settings, lesion_image):
    app = reviewed_case(lesion_image)
    assert not app.exception and not app.error
    app.radio(key="score/fusion").set_value(4)
    app.checkbox(key="misleading/fusion").check()
    app.text_input(key="comment/fusion").input("covers the nodule")
    app.button(key="save/fusion").click().run()
    assert any("Saved (rating #1)" in element.value for element in app.success)
    stored = RatingStore(dashboard_settings.ratings_db).frame().iloc[0]
    case = app.session_state["case"]
    assert (stored["reviewer"], stored["method"], stored["score"], stored["misleading"], stored["comment"]) == \
        ("dr_a", "fusion", 4, 1, "covers the nodule")
    assert (stored["case_id"], stored["model"], stored["model_version"], stored["dataset"]) == \
        (case.picture.case_id, "phantom", case.model["version"], "upload")
    assert "scan.png" not in RatingStore(dashboard_settings.ratings_db).frame().to_csv()

    app.toggle(key="blinded").set_value(True).run()  # blinded: method names hidden, order shuffled
    page_text = " ".join(caption for image in app.image for caption in image.captions)
    assert "Map A" in page_text and "Map D" in page_text
    assert "Class-activation" not in page_text and "Fused" not in page_text
    app.radio(key="score/cam").set_value(2)
    app.button(key="save/cam").click().run()
    stored = RatingStore(dashboard_settings.ratings_db).frame()
    assert stored[["method", "score", "blinded"]].values.tolist() == [["fusion", 4, 0], ["cam", 2, 1]]


def test_rating_without_a_name_or_a_case_says_what_is_missing(monkeypatch, tmp_path):
    use_settings(monkeypatch, DashboardSettings(service="127.0.0.1:1", ratings_db=tmp_path / "r.sqlite"))
    app = open_page("pages/rating.py")
    assert "reviewer name" in app.info[0].value
    app.sidebar.text_input(key="reviewer_name").input("dr_b").run()
    assert "Open a case in Case review first" in app.info[0].value
    assert "Identity not verified" in app.sidebar.warning[0].value


def test_report_shows_table_7_agreement_and_csv(monkeypatch, tmp_path):
    settings = use_settings(monkeypatch, DashboardSettings(service="127.0.0.1:1", ratings_db=tmp_path / "r.sqlite"))
    store = RatingStore(settings.ratings_db)
    for reviewer, scores in {"A": [1, 2, 3, 4], "B": [1, 2, 4, 4]}.items():
        for case, score in enumerate(scores):
            store.add(Rating(reviewer, f"case{case}", "phantoms", "phantom", "1", "fusion", score))
    store.add(Rating("A", "case0", "phantoms", "phantom", "1", "fusion", 2))  # re-rating replaces the 1
    store.add(Rating("A", "case0", "phantoms", "phantom", "1", "fusion", 1))
    app = open_page("pages/report.py")
    assert not app.exception
    assert [(m.label, m.value) for m in app.metric][:3] == [("Cases", "4"), ("Reviewers", "2"), ("Ratings", "8")]
    table = app.dataframe[0].value
    assert table.loc[0, "mean ± SD"] == "2.62 ± 0.18"  # reviewer means 2.5 and 2.75
    assert app.metric[3].label.startswith("Krippendorff") and app.metric[3].value != "n/a"
    kappa = app.dataframe[1].value
    assert kappa.loc[0, "kappa"] == pytest.approx(11 / 12)
    assert app.get("download_button")


def test_monitoring_plots_the_live_metrics(dashboard_settings, held_out):
    app = open_page("pages/monitoring.py")
    assert not app.exception and not app.main.warning
    with Predictor(dashboard_settings) as predict:  # traffic between two scrapes
        for _ in range(3):
            predict(np.random.default_rng(0).random((64, 64, 3), dtype=np.float32))
    app.run()
    latency = app.dataframe[0].value
    assert "predict" in set(latency["stage"]) and (latency["count"] > 0).all()
    assert "no data yet" not in [caption.value for caption in app.caption]  # every panel has a chart


def test_models_page_lists_served_versions_with_their_gate(dashboard_settings):
    app = open_page("pages/models.py")
    assert not app.exception and not app.error
    models = app.dataframe[0].value
    assert isinstance(models, pd.DataFrame) and models.loc[0, "model"] == "phantom"
    assert models.loc[0, "classes"] == "benign_nodule, malignant_nodule"
    assert "Release gate:" in app.markdown[0].value and "Sanity check:" in app.markdown[0].value
    assert "Calibration:" in app.markdown[0].value


@pytest.fixture
def prometheus(dashboard_settings, tmp_path):
    """Debian's prometheus scraping the service and Triton every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    targets = [urllib.parse.urlsplit(url).netloc for url in dashboard_settings.metrics_urls().values()]
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({"global": {"scrape_interval": "1s"},
                                  "scrape_configs": [{"job_name": "medxai", "static_configs": [{"targets": targets}]}]}))
    port = free_port()
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_monitoring_from_prometheus(monkeypatch, dashboard_settings, prometheus):
    use_settings(monkeypatch, dataclasses.replace(dashboard_settings, prometheus=prometheus))
    with Predictor(dashboard_settings) as predict:
        while prometheus_lacks_a_panel(prometheus):  # traffic until Prometheus has scrapes of it for every panel
            predict(np.random.default_rng(0).random((64, 64, 3), dtype=np.float32))
            time.sleep(0.5)
    app = open_page("pages/monitoring.py")
    assert not app.exception and not app.error and not app.main.warning
    assert "From Prometheus" in app.caption[0].value
    assert "no data yet" not in [caption.value for caption in app.caption]


def prometheus_lacks_a_panel(url: str) -> bool:
    try:
        return any(frame.empty for frame in prometheus_panels(url).values())
    except OSError:  # not listening yet
        return True
