"""`medxai predict` on the suite's trained phantom model (both precisions): its own kind of image is answered, a
vertebra CT and a Doppler ultrasound from pydicom's corpus (issue 36's examples) are refused with the reason."""

import json
import subprocess

import pytest
from pydicom.data import get_testdata_file

from medxai.checkpoint import load_checkpoint, save_checkpoint
from tests.cli import assert_user_error, medxai

def run_cli(*args) -> "subprocess.CompletedProcess":
    result = medxai(*map(str, args))
    assert result.returncode == 0, result.stderr
    return result


VERTEBRA_CT = "CT_small.dcm"
DOPPLER_US = "US1_UNCR.dcm"  # pydicom-data's colour-flow ultrasound


def test_images_the_model_was_never_meant_for_get_no_diagnosis(checkpoint_each_precision, phantom_dir):
    own = sorted((phantom_dir / "images").iterdir())[0]
    result = medxai("predict", "--checkpoint", str(checkpoint_each_precision), str(own),
                    get_testdata_file(VERTEBRA_CT), get_testdata_file(DOPPLER_US))
    # the answers are printed, and the exit code says two images got none (as `medxai explain` does)
    assert_user_error(result, f"2 of 3 images got no prediction: {get_testdata_file(VERTEBRA_CT)}: outside the "
                              f"model's intended use (OOD score")
    answers = json.loads(result.stdout)
    assert answers[0]["scope"]["in_scope"] and "prediction" in answers[0]
    assert answers[0]["scope"]["prediction_set"][0] == answers[0]["prediction"]
    for refused in answers[1:]:
        assert not refused["scope"]["in_scope"] and "prediction" not in refused and "probabilities" not in refused
    ct, ultrasound = answers[1]["scope"], answers[2]["scope"]
    assert ct["reason"].startswith("outside the model's intended use (OOD score") and ct["ood_score"] > ct["threshold"]
    assert ultrasound["reason"] == "outside the model's intended use (a colour image; the model is for grey images)"


def test_research_use_gets_the_answer_marked_and_a_contradicting_tag_is_refused_before_inference(
        trained_checkpoint, tmp_path):
    ct = get_testdata_file(VERTEBRA_CT)
    answer = json.loads(run_cli("predict", "--checkpoint", trained_checkpoint, "--allow-out-of-scope", ct).stdout)[0]
    assert answer["research_only"] and "prediction" in answer and not answer["scope"]["in_scope"]
    model, info = load_checkpoint(trained_checkpoint)
    info.scope["intended_use"]["modality"] = ["DX"]
    tagged = save_checkpoint(tmp_path / "dx.pt", model, info)
    result = medxai("predict", "--checkpoint", str(tagged), ct)
    assert_user_error(result, "1 of 1 images got no prediction")
    refused = json.loads(result.stdout)[0]["scope"]
    assert refused["reason"] == "outside the model's intended use (Modality CT; the model is for DX)"
    assert refused["ood_score"] is None  # refused before inference
    # without the tags the CT reaches the model, and its OOD score refuses it (exit 2, the answer still printed)
    lenient = medxai("predict", "--checkpoint", str(tagged), "--dicom-tags", "off", ct)
    assert_user_error(lenient, "1 of 1 images got no prediction")
    assert json.loads(lenient.stdout)[0]["scope"]["ood_score"] is not None
    # medxai explain takes the same rule: the tag refuses the CT first, without it the OOD score does
    for rule, reason in (("contradiction", "(Modality CT; the model is for DX)"), ("off", "(OOD score")):
        result = medxai("explain", "--checkpoint", str(tagged), "--image", ct, "--out", str(tmp_path / rule),
                        "--dicom-tags", rule)
        assert_user_error(result, f"outside the model's intended use {reason}")
    wrong = medxai("predict", "--checkpoint", str(tagged), "--dicom-tags", "lax", ct)
    assert_user_error(wrong, "Invalid value for '--dicom-tags': 'lax' is not one of")  # rich boxes the rest


def test_an_old_checkpoint_gets_its_scope_from_scope_fit(trained_run, phantom_dir, tmp_path):
    model, info = load_checkpoint(trained_run / "best.pt")
    info.scope, info.format_version = {}, 1
    old = save_checkpoint(tmp_path / "old.pt", model, info)
    ct = get_testdata_file(VERTEBRA_CT)
    assert json.loads(run_cli("predict", "--checkpoint", old, ct).stdout)[0]["scope"]["in_scope"]
    fitted = json.loads(run_cli("scope", "fit", "--checkpoint", old, "--data", phantom_dir, "--ids",
                                trained_run / "validation_ids.txt").stdout)
    assert fitted["accepted"] >= 0.95 and fitted["coverage"] >= 0.85
    refused = medxai("predict", "--checkpoint", str(old), ct)
    assert refused.returncode == 2 and not json.loads(refused.stdout)[0]["scope"]["in_scope"]
    assert load_checkpoint(old)[1].format_version == 2


@pytest.mark.parametrize("alpha", ["0", "1.5"])
def test_scope_fit_refuses_an_error_rate_outside_zero_to_one(trained_run, phantom_dir, alpha):
    result = medxai("scope", "fit", "--checkpoint", str(trained_run / "best.pt"), "--data", str(phantom_dir),
                    "--ids", str(trained_run / "validation_ids.txt"), "--alpha", alpha)
    assert_user_error(result, "between 0 and 1")
