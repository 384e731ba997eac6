"""`medxai pacs explain` end to end: a synthetic CT/MR/CR study stored in a real Orthanc, explained by the real
service (Triton behind it), results stored back by STOW-RS and read back by WADO-RS, checked by dciodvfy."""

import json

import highdicom as hd
import numpy as np
import pytest

from pacs import dciodvfy, provenance
from pacs.dicomweb import retrieve, store
from pacs.explanation import ServiceSettings, explain_dicom
from pacs.pipeline import encoded
from pacs.release_gate import sanity_check
from pacs.structured_report import read_probabilities
from tests.cli import medxai
from tests.pacs.conftest import phantom_study

PM, SC, SR = "1.2.840.10008.5.1.4.1.1.30", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.33"
SMALL = ("--ig-steps", "8", "--lime-samples", "100")


def references(result, source) -> bool:
    return any(element.keyword == "ReferencedSOPInstanceUID" and element.value == source.SOPInstanceUID
               for element in result.iterall())


def explain_study(pacs_settings, service, repository, study_uid: str, audit) -> dict:
    result = medxai("pacs", "explain", "--dicomweb", pacs_settings.url, "--user", pacs_settings.user,
                    "--model-repository", str(repository),
                    "--password-file", str(pacs_settings.password_file), "--service", f"127.0.0.1:{service.port}",
                    "--study", study_uid, "--audit-log", str(audit), *SMALL, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_study_explained_into_the_pacs(pacs_settings, service, repository, in_scope, tmp_path):
    if not dciodvfy.available():
        pytest.skip("dciodvfy is not installed (apt-get install dicom3tools)")
    sources = phantom_study(in_scope, ["CT", "MR", "CR"])
    study_uid = str(sources[0].StudyInstanceUID)
    store(pacs_settings, sources, study_uid)
    audit = tmp_path / "audit.jsonl"
    assert explain_study(pacs_settings, service, repository, study_uid, audit) == {
        "study_uid": study_uid, "images": 3, "other_objects": 0, "explained": 3, "out-of-scope": 0,
        "already-explained": 0, "not-explained": 0, "failed": 0}

    stored = retrieve(pacs_settings, study_uid)
    assert len(stored) == 3 + 2 * 4 + 3 * 2  # sources, 4 maps for CT and MR, a capture and a report each
    service_settings = ServiceSettings(address=f"127.0.0.1:{service.port}", methods=("gradcam",))
    for source in sources:
        results = [d for d in stored if d.Manufacturer == "medxai" and references(d, source)]
        kinds = sorted(str(d.SOPClassUID) for d in results)
        assert kinds.count(PM) == (4 if source.Modality != "CR" else 0), source.Modality
        assert kinds.count(SC) == kinds.count(SR) == 1
        for result in results:
            assert dciodvfy.errors(result) == [], f"{source.Modality} {result.SOPClassUID}"
            assert provenance.added_patient_values(source, result) == []
        direct = explain_dicom(service_settings, encoded(source))
        report = next(d for d in results if d.SOPClassUID == SR)
        assert read_probabilities(report) == pytest.approx(direct.probabilities, abs=5e-4)  # to 0.1 %
        passed = sanity_check(repository, direct.model_name, direct.model_version)
        assert passed is not None and ("PASSED" if passed else "FAILED") in {
            element.value for element in report.iterall() if element.keyword == "CodeValue"}
        for pm in (d for d in results if d.SOPClassUID == PM and d.ContentLabel == "GRADCAM"):
            assert pm.FrameOfReferenceUID == source.FrameOfReferenceUID
            pixels = hd.pm.ParametricMap.from_dataset(pm).pixel_array.squeeze()
            np.testing.assert_allclose(pixels, direct.maps["gradcam"], atol=1e-6)

    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["explained"] * 3
    assert not any(key.startswith("Patient") or key in ("pixels", "PixelData") for line in lines for key in line)
    # the same study again: nothing new is computed or stored; medxai's own results are other objects, not images
    again = explain_study(pacs_settings, service, repository, study_uid, audit)
    assert again["already-explained"] == 3 and again["images"] == 3 and again["other_objects"] == 2 * 4 + 3 * 2
    assert len(retrieve(pacs_settings, study_uid)) == len(stored)
