"""Intended use: refusals by DICOM tag under each rule, and the values learned from DICOM training files."""

import pytest
from pydicom.data import get_testdata_file

from medxai.scope.assessment import assess, refer_sentence
from medxai.scope.intended_use import IntendedUse, colour_of, dicom_tags, intended_use_of
from medxai.scope.scope import Scope

BRAIN = IntendedUse(["MR"], ["BRAIN"], "grey", 160, ["glioma", "meningioma", "pituitary"])


def test_a_contradicting_tag_is_refused_with_the_reason_and_an_empty_one_only_when_strict():
    assert "Modality CT; the model is for MR" in BRAIN.tag_refusal("CT", "BRAIN")
    assert "Body Part Examined CHEST" in BRAIN.tag_refusal("mr", "chest")
    assert BRAIN.tag_refusal("MR", "brain") is None
    assert BRAIN.tag_refusal("", "") is None
    assert "Modality is empty" in BRAIN.tag_refusal("", "", rule="strict")
    assert BRAIN.tag_refusal("CT", "CHEST", rule="off") is None
    assert IntendedUse().tag_refusal("CT", "CHEST", rule="strict") is None  # nothing known: nothing refused
    with pytest.raises(ValueError):
        BRAIN.tag_refusal("MR", "", rule="lenient")


def test_a_grey_model_refuses_a_colour_image_before_inference():
    import numpy as np
    grey = np.repeat(np.random.default_rng(0).random((1, 32, 32)), 3, axis=0)
    colour = grey.copy()
    colour[0] = np.clip(colour[0] + 0.2, 0, 1)  # a reddish photograph
    assert colour_of(grey[None]) == "grey" and colour_of(colour[None]) == "colour"
    assert BRAIN.refusal(grey) is None
    assert BRAIN.refusal(colour) == "outside the model's intended use (a colour image; the model is for grey images)"
    assert IntendedUse(colour="colour").refusal(grey) is None  # a colour model takes grey images too
    assert "Modality CT" in BRAIN.refusal(grey, ("CT", ""))  # tags are checked first


def test_the_intended_use_comes_from_the_training_files_tags_unless_given():
    ct, mr = get_testdata_file("CT_small.dcm"), get_testdata_file("MR_small.dcm")
    from pathlib import Path
    assert dicom_tags([Path(ct), Path(mr), Path(mr)]) == (["MR", "CT"], [])
    use = intended_use_of([Path(mr)], ["a", "b"], 64, body_part="brain")
    assert (use.modality, use.body_part, use.image_size) == (["MR"], ["BRAIN"], 64)
    assert use.describe() == "MR BRAIN, 64 px; classes a, b"


def test_without_a_scope_every_answer_is_in_scope_and_with_one_a_torn_answer_is_referred():
    import numpy as np
    assert assess(None, np.array([0.5, 0.5]), ["a", "b"], None).in_scope
    scope = Scope(IntendedUse(), quantile=0.95, conformal_method="aps")
    torn = assess(scope, np.array([0.5, 0.4, 0.1]), ["a", "b", "c"], None)
    assert torn.prediction_set == ["a", "b"] and torn.refer == "refer: the model cannot separate a and b"
    assert refer_sentence(["a", "b", "c"]) == "refer: the model cannot separate a, b and c"
