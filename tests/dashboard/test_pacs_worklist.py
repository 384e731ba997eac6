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


def review_study(monkeypatch, dashboard_settings, pacs_settings, study_uid: str, audit_log=None):
    """The review page with the PACS as its image source and `study_uid` picked."""
    use_settings(monkeypatch, dataclasses.replace(dashboard_settings, pacs=pacs_settings.url,
                                                  pacs_user=pacs_settings.user,
                                                  pacs_password_file=pacs_settings.password_file,
                                                  pacs_audit_log=audit_log))
    app = open_page("pages/review.py")
    app.radio(key="source").set_value("PACS").run()
    studies = app.selectbox(key="pacs_study")
    studies.select_index(next(i for i, title in enumerate(studies.options) if study_uid in title)).run()
    return app


@pytest.mark.slow
def test_pacs_study_image_and_its_stored_results(dashboard_settings, monkeypatch, pacs_settings, service,  # noqa: F811
                                                 in_scope, tmp_path):
    sources = phantom_study(in_scope, ["CT", "CR"], first=6)
    ct, cr = sources
    store(pacs_settings, sources, str(ct.StudyInstanceUID))
    gateway = Gateway(ServiceSettings(f"127.0.0.1:{service.port}", ig_steps=8, lime_samples=100), pacs_settings,
                      AuditLog(tmp_path / "audit.jsonl"))
    stored = process(gateway, ct)  # the CT image has results in the PACS, the CR image none
    app = review_study(monkeypatch, dashboard_settings, pacs_settings, str(ct.StudyInstanceUID))
    images = app.selectbox(key="pacs_image")
    assert len(images.options) == 2  # the sources only, not the objects medxai stored
    images.select_index(next(i for i, title in enumerate(images.options) if str(ct.SOPInstanceUID) in title)).run()
    assert not app.exception and not app.error, app.error
    assert "Secondary Capture stored in the PACS" in [c for image in app.image for c in image.captions]
    assert any(stored["model_version"] in element.value for element in app.caption)
    case = app.session_state["case"]
    assert case.dataset == "pacs" and case.complete
    stored_table = app.dataframe[0].value
    assert dict(zip(stored_table["class"], stored_table["probability"])) == pytest.approx(case.probabilities,
                                                                                         abs=5e-4)  # SR: to 0.1 %

    images = app.selectbox(key="pacs_image")
    images.select_index(next(i for i, title in enumerate(images.options) if str(cr.SOPInstanceUID) in title)).run()
    assert not app.exception and not app.error, app.error
    assert any("None yet" in element.value for element in app.caption)


@pytest.mark.slow
def test_an_image_the_gateway_did_not_explain_says_why(dashboard_settings, monkeypatch, pacs_settings,  # noqa: F811
                                                       held_out, tmp_path):
    """An image the gateway refused (here: an Enhanced MR of 10 frames, over a limit of 4) is listed as 'not
    explained: <reason>' and its page says why, instead of 'none yet'."""
    import pydicom
    from pydicom.uid import generate_uid

    from tests.pacs.corpus import named
    source = phantom_study(held_out, ["MR"], first=7)[0]
    enhanced = pydicom.dcmread(named("emri_small.dcm"))
    enhanced.PatientID, enhanced.PatientName = source.PatientID, source.PatientName
    enhanced.StudyInstanceUID, enhanced.SeriesInstanceUID = source.StudyInstanceUID, generate_uid()
    enhanced.SOPInstanceUID = enhanced.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    store(pacs_settings, [source, enhanced], str(source.StudyInstanceUID))
    audit = AuditLog(tmp_path / "audit.jsonl")
    gateway = Gateway(ServiceSettings("127.0.0.1:1"), pacs_settings, audit, max_frames=4)
    from pacs.pipeline import handle
    line = handle(gateway, enhanced)  # refused before the service is asked
    assert line["outcome"] == "not-explained" and line["set_aside"]
    app = review_study(monkeypatch, dashboard_settings, pacs_settings, str(source.StudyInstanceUID), audit.path)
    images = app.selectbox(key="pacs_image")
    titles = list(images.options)
    refused = next(i for i, title in enumerate(titles) if str(enhanced.SOPInstanceUID) in title)
    assert "not explained: a multi-frame image of 10 frames, over the limit of 4" in titles[refused]
    images.select_index(refused).run()
    assert any("Not explained: a multi-frame image" in element.value for element in app.warning)
