"""Images outside the model's intended use, in the PACS path: the report and the capture say "not assessed" and
why, and nothing else (no finding, no probabilities, no map); a torn answer's report carries its prediction set.
End to end: pydicom's vertebra CT and Doppler ultrasound (issue 36's examples) stored in a real Orthanc and
explained by the real service behind the phantom model come back that way."""

import json
import re
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from pacs import dciodvfy
from pacs.dicomweb import retrieve, store
from pacs.explanation import Explanation
from pacs.results import result_objects
from pacs.secondary_capture import caption
from pacs.structured_report import read_probabilities
from pacs.synthetic import synthetic_study
from tests.pacs.test_explain_study import SC, SR, explain_study, references
from tests.pacs.test_results import content_items

REASON = "outside the model's intended use (OOD score 9120.4, threshold 610.2)"


def outside() -> Explanation:
    return Explanation(request_id="r2", model_name="brain", model_version="2", checkpoint_sha256="cd34" * 16,
                       class_names=["glioma", "meningioma", "pituitary"], in_scope=False, scope_reason=REASON,
                       intended_use="MR BRAIN, grey, 160 px", ood_score=9120.43, ood_threshold=610.17)


def codes_of(dataset) -> set[str]:
    return {element.value for element in dataset.iterall() if element.keyword == "CodeMeaning"}


def test_an_image_outside_the_intended_use_gets_a_capture_and_a_report_that_say_so():
    source = synthetic_study([np.random.default_rng(0).random((96, 80))], ["CT"])[0]
    results = result_objects(source, outside())
    assert sorted(str(r.SOPClassUID) for r in results) == sorted([SC, SR])
    capture, report = results
    assert "not assessed" in capture.DerivationDescription
    assert caption(outside()).startswith("AI: not assessed\noutside the model's intended use (OOD score 9120.4")
    assert read_probabilities(report) == {}
    assert {"Not assessed: outside intended use", "Out-of-distribution score"} <= codes_of(report)
    numbers = {item.ConceptNameCodeSequence[0].CodeMeaning: float(item.MeasuredValueSequence[0].NumericValue)
               for item in content_items(report) if item.ValueType == "NUM"}
    assert numbers == {"Out-of-distribution score": 9120.4, "Out-of-distribution threshold": 610.2}
    if dciodvfy.available():
        for result in results:
            assert dciodvfy.errors(result) == [], result.SOPClassUID
    if shutil.which("dsr2html"):
        path = f"/tmp/medxai-oos-{report.SOPInstanceUID}.dcm"
        report.save_as(path, enforce_file_format=True)
        html = subprocess.run(["dsr2html", path], capture_output=True, text=True, check=True).stdout
        assert "Not assessed: outside intended use" in re.sub(r"\s+", " ", html)


def test_a_torn_answer_carries_its_prediction_set_and_the_referral():
    source = synthetic_study([np.random.default_rng(1).random((96, 80))], ["MR"])[0]
    maps = {"fusion": np.random.default_rng(2).random((64, 64)).astype(np.float32)}
    torn = Explanation(request_id="r3", model_name="brain", model_version="2", checkpoint_sha256="cd34" * 16,
                       class_names=["glioma", "meningioma", "pituitary"],
                       probabilities={"glioma": 0.48, "meningioma": 0.45, "pituitary": 0.07}, predicted="glioma",
                       target="glioma", maps=maps, prediction_set=["glioma", "meningioma"], alpha=0.1,
                       refer="refer: the model cannot separate glioma and meningioma")
    report = result_objects(source, torn)[-1]
    assert {"In the conformal prediction set", "Refer: the model cannot separate the set's classes"} <= codes_of(report)
    assert "refer: the model cannot separate glioma and meningioma" in caption(torn)


@pytest.mark.slow
def test_a_vertebra_ct_and_a_doppler_ultrasound_come_back_not_assessed(pacs_settings, service, repository,
                                                                      tmp_path):
    sources = [pydicom.dcmread(get_testdata_file(name)) for name in ("CT_small.dcm", "US1_UNCR.dcm")]
    study_uid = generate_uid()  # new UIDs: other tests store pydicom's files, whose UIDs are fixed, as they are
    for source in sources:  # one study, as a misrouting PACS rule would send them
        source.StudyInstanceUID, source.SeriesInstanceUID = study_uid, generate_uid()
        source.SOPInstanceUID = source.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        source.PatientID = "MEDXAI-OOS"
    store(pacs_settings, sources, study_uid)
    audit = tmp_path / "audit.jsonl"
    counts = explain_study(pacs_settings, service, repository, study_uid, audit)
    assert counts["out-of-scope"] == 2 and counts["explained"] == 0 and counts["failed"] == 0
    stored = retrieve(pacs_settings, study_uid)
    for source in sources:
        results = [d for d in stored if d.get("Manufacturer") == "medxai" and references(d, source)]
        assert sorted(str(d.SOPClassUID) for d in results) == sorted([SC, SR])
        report = next(d for d in results if d.SOPClassUID == SR)
        assert "Not assessed: outside intended use" in codes_of(report) and read_probabilities(report) == {}
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["out-of-scope"] * 2
    assert sorted(line["reason"].split(" (")[1][:9] for line in lines) == ["OOD score", "a colour "]  # CT, US
