"""Case review against the real service: an uploaded phantom gets its prediction and all four maps with
their reliability hints; a worklist case shows the expert outline with each map's IoU and pointing game;
deletion and insertion curves come on demand, classified by the service."""

from tests.dashboard.conftest import open_page

OVERLAYS = ["Class-activation map overlay", "Integrated Gradients overlay", "LIME overlay", "Fused map overlay"]


def captions(app) -> str:
    return " | ".join(element.value for element in app.caption)


def image_captions(app) -> list[str]:
    return [caption for image in app.image for caption in image.captions]


def test_upload_streams_prediction_and_every_map(dashboard_settings, lesion_image):
    app = open_page("pages/review.py")
    assert not app.exception and not app.error
    app.file_uploader(key="upload").set_value(("scan.png", lesion_image, "image/png"))
    app.run()
    assert not app.exception and not app.error, app.error
    assert app.metric[0].label == "Prediction" and app.metric[0].value in ("benign_nodule", "malignant_nodule")
    assert sorted(app.dataframe[0].value["class"]) == ["benign_nodule", "malignant_nodule"]
    assert image_captions(app)[-4:] == OVERLAYS
    assert "IG completeness gap" in captions(app) and "LIME surrogate R²" in captions(app)
    assert "sanity check of v1: passed" in captions(app) or "sanity check of v1: failed" in captions(app)
    case = app.session_state["case"]
    assert case.complete and list(case.maps) == ["cam", "ig", "fusion", "lime"]
    assert len(case.picture.case_id) == 64 and case.dataset == "upload" and case.mask is None

    app.button(key="curves").click().run()  # on demand: every perturbed image goes through Predict
    assert not app.exception and not app.error
    for method in case.maps:
        for mode in ("deletion", "insertion"):
            curve, area = app.session_state["case"].curves[method][mode]
            assert len(curve) == 17 and 0 <= area <= 1


def test_worklist_case_shows_outline_iou_and_pointing_game(dashboard_settings):
    app = open_page("pages/review.py")
    app.sidebar.checkbox(key="research").check()  # the first held-out phantom may lie outside the intended use
    app.radio(key="source").set_value("Worklist").run()
    picker = app.selectbox(key="worklist_item")
    held_out_item = next(option for option in picker.options if option.endswith("· mask · test"))
    picker.select_index(picker.options.index(held_out_item)).run()
    assert not app.exception and not app.error, app.error
    assert image_captions(app)[0] == "image (expert outline in green)"
    assert captions(app).count("IoU ") == 4 and captions(app).count("pointing game ") == 4
    assert "expert label: " + held_out_item.split(" · ")[1] in captions(app)
    assert app.session_state["case"].dataset == dashboard_settings.worklist.name


def test_an_image_outside_the_intended_use_gets_a_banner_and_no_map(dashboard_settings):
    from pydicom.data import get_testdata_file
    app = open_page("pages/review.py")
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    app.file_uploader(key="upload").set_value(("vertebra.dcm", ct, "application/dicom"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith(
        "**Not assessed: outside the model's intended use (OOD score")
    assert not app.metric and image_captions(app) == ["image"]  # no prediction, no map, no curves button
    assert app.session_state["case"].out_of_scope and not app.session_state["case"].maps
