"""Every file of ../shared/cases through the command line as a user meets it (`medxai predict`, `medxai
explain` in a real subprocess): the same probabilities as its PNG twin, one warning line, or a one-line
refusal that says why; diagnostics that cannot be computed say undefined. The service and the dashboard get
the same files in tests/explain_service/test_cases.py and tests/dashboard/test_cases.py."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.cli import assert_user_error, medxai

USABLE = ["colour.png", "colour_rgb.dcm", "colour_ybr_full.dcm", "ct_monochrome1.dcm", "ct_monochrome2.dcm",
          "window_width_below_one.dcm", "float.tif", "upright.jpg", "exif_orientation_6.jpg", "black.png"]
REFUSED = {
    "float_one_nan.tif": "image has 1 non-finite value (NaN or infinity) among 65536",
    "one_pixel.png": "image of 1x1 pixels is too small: width and height must be at least 8 pixels",
    "one_pixel.npy": "image of 1x1 pixels is too small: width and height must be at least 8 pixels",
}
TWINS = [("colour_rgb.dcm", "colour.png", 1e-6), ("colour_ybr_full.dcm", "colour.png", 0.01),
         ("ct_monochrome1.dcm", "ct_monochrome2.dcm", 1e-6), ("exif_orientation_6.jpg", "upright.jpg", 0.03)]
"""(file, its twin, largest difference of a probability): exact for the same pixels; YBR_FULL is within one
grey level of the PNG (its colour conversion rounds), the two JPEGs are separate lossy encodings."""


RESEARCH = "--allow-out-of-scope"
"""The cases are x-ray phantoms, colour dermoscopy phantoms, CT-like images and photographs: most lie outside the
phantom model's intended use and would get no answer (issue 36). What these tests check is decoding, so they ask
for research answers; the twins must then also get the same OOD score."""


def probabilities_of(checkpoint, cases) -> tuple[dict[str, dict[str, float]], str]:
    result = medxai("predict", "--checkpoint", str(checkpoint), RESEARCH, *[str(cases / name) for name in USABLE])
    assert result.returncode == 0, result.stderr
    answers = {entry["image"].rsplit("/", 1)[-1]: entry for entry in json.loads(result.stdout)}
    return {name: entry["probabilities"] | {"ood_score": entry["scope"]["ood_score"]}
            for name, entry in answers.items()}, result.stderr


@pytest.fixture(scope="module")
def predicted(trained_checkpoint, shared_cases):
    return probabilities_of(trained_checkpoint, shared_cases)


@pytest.mark.parametrize("name, twin, tolerance", TWINS)
def test_predict_gives_a_case_the_probabilities_of_its_twin(predicted, name, twin, tolerance):
    probabilities, _ = predicted
    for label, value in probabilities[twin].items():
        if label == "ood_score":  # the same input, the same distance (relative: its scale is the feature space's)
            assert probabilities[name][label] == pytest.approx(value, rel=10 * tolerance), name
        else:
            assert probabilities[name][label] == pytest.approx(value, abs=tolerance), (name, label)


def test_predict_warns_in_one_line_about_the_out_of_standard_window(predicted):
    _, stderr = predicted
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len([line for line in lines if line.startswith("warning:")]) == 1
    assert "Window Width must be greater than or equal to 1" in stderr and "own value range" in stderr


@pytest.mark.parametrize("name", list(REFUSED))
def test_predict_refuses_in_one_line(trained_checkpoint, shared_cases, name):
    result = medxai("predict", "--checkpoint", str(trained_checkpoint), str(shared_cases / name))
    assert_user_error(result, REFUSED[name])
    assert [line for line in result.stderr.splitlines() if REFUSED[name] in line][0].startswith("error: ")


def test_explain_black_says_its_diagnostics_are_undefined(trained_checkpoint, shared_cases, tmp_path):
    result = medxai("explain", "--checkpoint", str(trained_checkpoint), "--image", str(shared_cases / "black.png"),
                    "--out", str(tmp_path), "--methods", "gradcam,ig,lime,fusion", RESEARCH)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "explanation.json").read_text())
    assert report["ig_completeness_gap"] is None and report["lime_r2"] is None
    assert report["undefined"]["ig_completeness_gap"] == "the image equals IG's baseline, so there is nothing to " \
                                                         "attribute"
    assert "LIME's samples" in report["undefined"]["lime_r2"] or "weight 0" in report["undefined"]["lime_r2"]
    assert report["methods"]["ig"]["diagnostics"]["completeness_gap"] is None
    assert not np.load(tmp_path / "ig.npy").any()
    # the default fused map: a uniform image hides and shows nothing, so the faithfulness rule says it could not weigh
    fused = report["methods"]["fusion"]["diagnostics"]
    assert fused["faithfulness_undecided"] and "could not weigh" in fused["undefined"]["faithfulness_weights"]


def test_explain_draws_the_map_on_the_upright_image(trained_checkpoint, shared_cases, tmp_path):
    """IG's map (Grad-CAM's can be all zero for this small model) of the rotated file is the upright one's."""
    maps = {}
    for name in ("upright.jpg", "exif_orientation_6.jpg"):
        result = medxai("explain", "--checkpoint", str(trained_checkpoint), "--image", str(shared_cases / name),
                        "--out", str(tmp_path / name), "--methods", "ig", RESEARCH)
        assert result.returncode == 0, result.stderr
        maps[name] = np.load(tmp_path / name / "ig.npy")
    upright, rotated = maps["upright.jpg"], maps["exif_orientation_6.jpg"]
    assert correlation(upright, rotated) > 0.8 and correlation(upright, rotated) > correlation(upright, rotated.T)
    # the overlay is drawn on the image as decoded (upright, at its own size and aspect), not on the model's square
    for name in ("upright.jpg", "exif_orientation_6.jpg"):
        with Image.open(tmp_path / name / "ig.png") as drawn, Image.open(shared_cases / "upright.jpg") as upright_file:
            assert drawn.size == upright_file.size != (64, 64)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_explain_refuses_a_black_image_outside_the_intended_use_in_one_line(trained_checkpoint, shared_cases,
                                                                             tmp_path):
    result = medxai("explain", "--checkpoint", str(trained_checkpoint), "--image", str(shared_cases / "black.png"),
                    "--out", str(tmp_path), "--methods", "ig")
    assert_user_error(result, "outside the model's intended use (OOD score")
    report = json.loads((tmp_path / "explanation.json").read_text())
    assert not report["scope"]["in_scope"] and "methods" not in report and not list(tmp_path.glob("*.npy"))
