"""Case review from a PACS: a real Orthanc's studies, then their images (QIDO-RS), an image retrieved (WADO-RS)
and explained by the real service, and the results medxai stored in the PACS for it shown beside."""

import dataclasses

import pytest

from pacs.audit import AuditLog
from pacs.dicomweb import store
from pacs.explanation import ServiceSettings
from pacs.pipeline import Gateway, process
from tests.dashboard.conftest import open_page, use_settings
from tests.pacs.conftest import orthanc_server, pacs_settings, phantom_study  # noqa: F401


@pytest.mark.slow
def test_pacs_study_image_and_its_stored_results(dashboard_settings, monkeypatch, pacs_settings, service,  # noqa: F811
                                                 held_out, tmp_path):
    sources = phantom_study(held_out, ["CT", "CR"], first=6)
    ct, cr = sources
    store(pacs_settings, sources, str(ct.StudyInstanceUID))
    gateway = Gateway(ServiceSettings(f"127.0.0.1:{service.port}", ig_steps=8, lime_samples=100), pacs_settings,
                      AuditLog(tmp_path / "audit.jsonl"))
    stored = process(gateway, ct)  # the CT image has results in the PACS, the CR image none
    use_settings(monkeypatch, dataclasses.replace(dashboard_settings, pacs=pacs_settings.url,
                                                  pacs_user=pacs_settings.user,
                                                  pacs_password_file=pacs_settings.password_file))

    app = open_page("pages/review.py")
    app.radio(key="source").set_value("PACS").run()
    studies = app.selectbox(key="pacs_study")
    studies.select_index(next(i for i, title in enumerate(studies.options) if str(ct.StudyInstanceUID) in title)).run()
    images = app.selectbox(key="pacs_image")
    assert len(images.options) == 2  # the sources only, not the objects medxai stored
    images.select_index(next(i for i, title in enumerate(images.options) if str(ct.SOPInstanceUID) in title)).run()
    assert not app.exception and not app.error, app.error
    assert "Secondary Capture stored in the PACS" in [c for image in app.image for c in image.captions]
    assert any(stored["model_version"] in element.value for element in app.caption)
    case = app.session_state["case"]
    assert case.dataset == "pacs" and case.complete
    stored_table = app.dataframe[0].value
    assert dict(zip(stored_table["class"], stored_table["probability"])) == pytest.approx(case.probabilities, abs=1e-4)

    images = app.selectbox(key="pacs_image")
    images.select_index(next(i for i, title in enumerate(images.options) if str(cr.SOPInstanceUID) in title)).run()
    assert not app.exception and not app.error, app.error
    assert any("None yet" in element.value for element in app.caption)
