"""The DICOM objects written for one explained image, checked by dciodvfy (dicom3tools) and read back by
highdicom: Parametric Maps at the source geometry, the Secondary Capture, the TID 1500 report."""

import json
import re
import shutil
import subprocess

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
    assert len({r.SeriesInstanceUID for r in results}) == len(maps) + 2  # a series per result kind and map kind
    for result in results:  # named after their source, dated: a PACS browser tells them apart
        assert result.SeriesDescription.startswith("medxai ") and result.SeriesDescription.endswith(f": {modality}") \
            or result.SeriesDescription.endswith(str(source.get("SeriesDescription") or source.SeriesNumber))
        assert len(str(result.SeriesDate)) == 8 and str(result.SeriesTime)
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
    assert read_probabilities(report) == pytest.approx(explanation.probabilities, abs=5e-4)  # to 0.1 %
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


def content_items(dataset: Dataset):
    """Every content item of an SR's tree, depth first."""
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from content_items(item)


def test_report_names_every_value_and_marks_where_the_map_points(sources, explanation):
    """What a radiologist's tools show: every value with its concept name and unit (SEPARATE continuity), the
    probabilities in percent as a clinician reads them, the trust numbers with their meaning, and an image region
    on the source (TID 1410) that viewers such as OHIF list and draw."""
    report = result_objects(sources[0], explanation)[-1]
    items = list(content_items(report))
    assert {item.ContinuityOfContent for item in [report, *items] if item.ValueType == "CONTAINER"} == {"SEPARATE"}
    numbers = {item.ConceptNameCodeSequence[0].CodeMeaning: item.MeasuredValueSequence[0]
               for item in items if item.ValueType == "NUM"}
    assert float(numbers["Probability of nodule"].NumericValue) == 70.0
    assert numbers["Probability of nodule"].MeasurementUnitsCodeSequence[0].CodeValue == "%"
    assert float(numbers["Integrated Gradients completeness gap"].NumericValue) == 4.0
    assert "WITHINTOL" in report_codes(report)
    regions = [item for item in items if item.ValueType == "SCOORD"]
    assert len(regions) == 1 and regions[0].GraphicType in ("POLYLINE", "POINT")
    points = np.asarray(regions[0].GraphicData, dtype=float).reshape(-1, 2)
    assert (points >= 0).all() and (points[:, 0] <= sources[0].Columns).all() and (points[:, 1] <= sources[0].Rows).all()
    if regions[0].GraphicType == "POLYLINE":
        assert np.array_equal(points[0], points[-1])  # closed
    assert regions[0].ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == sources[0].SOPInstanceUID


@pytest.mark.skipif(shutil.which("dsr2html") is None, reason="dsr2html is not installed (apt-get install dcmtk)")
def test_dsr2html_shows_each_value_with_its_name(sources, explanation, tmp_path):
    report = result_objects(sources[0], explanation)[-1]
    report.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    html = subprocess.run(["dsr2html", str(tmp_path / "report.dcm")], capture_output=True, text=True, check=True).stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    for shown in ("Probability of nodule: 70.0 %", "Probability of normal: 10.0 %",
                  "Integrated Gradients completeness gap: 4.0 %", "Gap within the 5 % tolerance",
                  "Finding: nodule", "Image Region:"):
        assert shown in text, shown


def test_our_own_results_are_refused_as_ours():
    """A result medxai wrote (a Parametric Map has float pixels, no Pixel Data) is 'written by medxai itself'."""
    from pacs.pipeline import is_source_image, refusal
    rng = np.random.default_rng(3)
    source = synthetic_study([rng.random((32, 32))], ["CT"])[0]
    maps = {method: rng.random((64, 64)).astype(np.float32) for method in ("ig", "fusion")}
    explanation = Explanation(model_name="m", model_version="1", checkpoint_sha256="0" * 64, class_names=["a", "b"],
                              probabilities={"a": 0.4, "b": 0.6}, predicted="b", target="b", maps=maps)
    for result in result_objects(source, explanation):
        assert refusal(result) == "written by medxai itself (a result, not a source)"
        assert not is_source_image(result)


@pytest.mark.parametrize("side", [64, 1024])
def test_capture_never_covers_the_image_and_shows_a_weak_map(side, explanation):
    """The caption and the colour bar lie beside and below the image (its pixels unchanged under them), the canvas
    widens for a 64 px image so the caption is whole, and a weak map (peak 0.3) is still drawn visibly."""
    from pacs.secondary_capture import annotate, caption, display_pixels, overlay
    source = synthetic_study([np.random.default_rng(2).random((side, side))], ["MR"])[0]
    weak = np.zeros((64, 64), dtype=np.float32)
    weak[20:30, 30:40] = 0.3
    blended = overlay(source, at_source_grid(weak, source))
    shown = np.round(255 * display_pixels(source)).astype(np.uint8)
    assert np.abs(blended.astype(int) - shown).max() >= 0.3 * 0.5 * 255 * 0.5  # visible: about half opacity at 0.3
    capture = by_class(result_objects(source, Explanation(**{**explanation.__dict__, "maps": {"fusion": weak}})), SC)[0]
    pixels = capture.pixel_array
    assert pixels.shape[0] > side and pixels.shape[1] > side
    assert np.array_equal(pixels[:side, :side], blended)  # nothing drawn over the image
    assert np.array_equal(annotate(blended, caption(explanation), "fused"), pixels)
    text_rows = pixels[side:]  # the caption band: yellow text, whole (not clipped at the right edge)
    yellow = (text_rows[..., 0] > 200) & (text_rows[..., 1] > 200) & (text_rows[..., 2] < 80)
    assert yellow.any() and not yellow[:, -1].any()



@pytest.mark.skipif(not dciodvfy.available(), reason="dciodvfy is not installed (apt-get install dicom3tools)")
@pytest.mark.parametrize("name, maps", [("eCT_Supplemental.dcm", 4), ("emri_small_RLE.dcm", 0)])
def test_multi_frame_results_reference_their_frames(name, maps, explanation):
    """An enhanced CT (plane geometry in its functional groups) and an RLE Enhanced MR without it, explained frame
    by frame: one multi-frame Parametric Map per map kind whose frames reference the source's frames, a capture per
    frame, one report with a measurement group per frame; every object valid."""
    import pydicom

    from medxai.data.frames import frame_images
    from tests.pacs.corpus import named
    source = pydicom.dcmread(named(name))
    frames = frame_images(source)
    explanations = [Explanation(**{**explanation.__dict__, "maps": {m: np.roll(v, i, axis=1)
                                                                    for m, v in explanation.maps.items()}})
                    for i in range(len(frames))]
    results = result_objects(source, explanations, frames=frames)
    for result in results:
        assert dciodvfy.errors(result) == [], (name, result.SOPClassUID)
    parametric = by_class(results, PM)
    assert len(parametric) == maps
    for pm in parametric:
        assert int(pm.NumberOfFrames) == len(frames)
        numbers = [int(f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
                   for f in pm.PerFrameFunctionalGroupsSequence]
        assert numbers == list(range(1, len(frames) + 1))
    captures = by_class(results, SC)
    assert [int(c.SourceImageSequence[0].ReferencedFrameNumber) for c in captures] == list(range(1, len(frames) + 1))
    assert all(c.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID for c in captures)
    assert len({c.SOPInstanceUID for c in captures}) == len(frames)
    report = by_class(results, SR)[0]
    regions = [item for item in content_items(report) if item.ValueType == "SCOORD"]
    referenced = [int(r.ContentSequence[0].ReferencedSOPSequence[0].ReferencedFrameNumber) for r in regions]
    assert referenced == list(range(1, len(frames) + 1))


@pytest.mark.skipif(not dciodvfy.available(), reason="dciodvfy is not installed (apt-get install dicom3tools)")
def test_a_flat_map_is_reported_as_a_point(sources, explanation):
    """A map with no region to outline (flat) still gives the report a region: its peak, as a POINT."""
    flat = Explanation(**{**explanation.__dict__, "maps": {"fusion": np.full((64, 64), 0.5, dtype=np.float32)}})
    report = result_objects(sources[0], flat)[-1]
    regions = [item for item in content_items(report) if item.ValueType == "SCOORD"]
    assert [region.GraphicType for region in regions] == ["POINT"]
    assert dciodvfy.errors(report) == []
