"""The DICOM objects written for one explained image, checked by dciodvfy (dicom3tools) and read back by
highdicom: Parametric Maps at the source geometry, the Secondary Capture, the TID 1500 report."""

import json

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset

from pacs import dciodvfy, provenance
from pacs.explanation import Explanation
from pacs.geometry import at_source_grid
from pacs.release_gate import sanity_check
from pacs.results import result_objects
from pacs.structured_report import read_probabilities
from pacs.synthetic import synthetic_study

PM, SC, SR = "1.2.840.10008.5.1.4.1.1.30", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.33"


@pytest.fixture(scope="module")
def sources() -> list[Dataset]:
    rng = np.random.default_rng(0)
    return synthetic_study([rng.random((96, 80)) for _ in range(3)], ["CT", "MR", "CR"])


@pytest.fixture(scope="module")
def explanation() -> Explanation:
    rng = np.random.default_rng(1)
    maps = {method: rng.random((64, 64)).astype(np.float32) for method in ("gradcam", "ig", "lime", "fusion")}
    return Explanation(request_id="r1", model_name="phantom", model_version="3", checkpoint_sha256="ab12" * 16,
                       class_names=["normal", "nodule", "effusion"],
                       probabilities={"normal": 0.1, "nodule": 0.7, "effusion": 0.2}, predicted="nodule",
                       target="nodule", maps=maps,
                       diagnostics={"ig": {"completeness_gap": 0.04}, "lime": {"r2": 0.61}})


def by_class(results: list[Dataset], sop_class: str) -> list[Dataset]:
    return [result for result in results if result.SOPClassUID == sop_class]


@pytest.mark.parametrize("modality", ["CT", "MR", "CR"])
def test_objects_per_source(sources, explanation, modality):
    source = next(s for s in sources if s.Modality == modality)
    results = result_objects(source, explanation)
    maps = by_class(results, PM)
    assert len(maps) == (4 if modality != "CR" else 0)  # a CR image has no plane geometry
    assert len(by_class(results, SC)) == len(by_class(results, SR)) == 1
    for result in results:
        assert result.StudyInstanceUID == source.StudyInstanceUID
        assert result.SeriesInstanceUID != source.SeriesInstanceUID
        assert result.Manufacturer == "medxai"
        assert list(result.SoftwareVersions)[1:] == ["ab12" * 16, "phantom 3"]
        assert provenance.added_patient_values(source, result) == []
        assert result.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID \
            if "ReferencedSeriesSequence" in result else result.SOPClassUID == SR
    assert len({r.SeriesInstanceUID for r in results}) == (3 if maps else 2)  # a series per result kind
    for pm, method in zip(maps, explanation.maps):
        assert pm.FrameOfReferenceUID == source.FrameOfReferenceUID
        assert (pm.Rows, pm.Columns) == (source.Rows, source.Columns)
        source_item = pm.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0] \
            if "DerivationImageSequence" in pm.SharedFunctionalGroupsSequence[0] else \
            pm.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
        assert source_item.ReferencedSOPInstanceUID == source.SOPInstanceUID
        mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
        assert mapping.QuantityDefinitionSequence[0].ConceptCodeSequence[0].CodeValue == "130402"  # Class activation
        assert np.array_equal(hd.pm.ParametricMap.from_dataset(pm).pixel_array.squeeze(),
                              at_source_grid(explanation.maps[method], source))
    sc = by_class(results, SC)[0]
    assert sc.BurnedInAnnotation == "YES"
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    report = by_class(results, SR)[0]
    assert read_probabilities(report) == pytest.approx(explanation.probabilities)
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    hd.sr.ComprehensiveSR.from_dataset(report)  # highdicom reads back what it wrote
    assert ("NOGEOMETRY" in report_codes(report)) == (not maps)  # the report says why no Parametric Map was written


def report_codes(report: Dataset) -> set[str]:
    return {element.value for element in report.iterall() if element.keyword == "CodeValue"}


def test_report_carries_the_release_gates_sanity_check(sources, explanation, tmp_path):
    assert "UNKNOWN" in report_codes(result_objects(sources[0], explanation)[-1])
    assert "FAILED" in report_codes(result_objects(sources[0], explanation, sanity_passed=False)[-1])
    version = tmp_path / "phantom" / "3"
    version.mkdir(parents=True)
    (version / "provenance.json").write_text(json.dumps({"gate_refusals": []}))
    assert sanity_check(tmp_path, "phantom", "3") is True
    (version / "provenance.json").write_text(json.dumps({"gate_refusals": ["the model-randomisation sanity check "
                                                                           "failed (Spearman 0.9)"]}))
    assert sanity_check(tmp_path, "phantom", "3") is False
    assert sanity_check(tmp_path, "phantom", "4") is None and sanity_check(None, "phantom", "3") is None


def test_same_source_and_model_give_the_same_objects(sources, explanation):
    first = [r.SOPInstanceUID for r in result_objects(sources[0], explanation)]
    assert first == [r.SOPInstanceUID for r in result_objects(sources[0], explanation)]
    newer = Explanation(**{**explanation.__dict__, "model_version": "4"})
    assert not set(first) & {r.SOPInstanceUID for r in result_objects(sources[0], newer)}


@pytest.mark.skipif(not dciodvfy.available(), reason="dciodvfy is not installed (apt-get install dicom3tools)")
@pytest.mark.parametrize("modality", ["CT", "CR"])
def test_every_object_passes_dciodvfy(sources, explanation, modality):
    source = next(s for s in sources if s.Modality == modality)
    for result in result_objects(source, explanation):
        assert dciodvfy.errors(result) == [], result.SOPClassUID
