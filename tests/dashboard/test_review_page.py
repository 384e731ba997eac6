"""Case review against the real service: an uploaded phantom gets its prediction and all four maps; a
worklist case shows the expert outline with each map's IoU and pointing game; curves come on demand."""

from tests.dashboard.conftest import open_page


def captions(app) -> str:
    return " | ".join(element.value for element in app.caption)


def test_upload_streams_prediction_and_every_map(dashboard_settings, held_out):
    app = open_page("pages/review.py")
    assert not app.exception and not app.error
    png, _, _ = held_out[0]
    app.file_uploader(key="upload").set_value(("scan.png", png, "image/png"))
    app.run()
    assert not app.exception and not app.error, app.error
    assert app.metric[0].label == "Prediction" and app.metric[0].value in ("benign", "malignant")
    shown = [caption for image in app.image for caption in image.captions]
    assert shown[-4:] == ["Grad-CAM overlay", "Integrated Gradients overlay", "LIME overlay", "Fused map overlay"]
    assert "IG completeness gap" in captions(app) and "LIME surrogate R²" in captions(app)
    assert "sanity check of v1:" in captions(app)
    case = app.session_state["case"]
    assert case.complete and list(case.maps) == ["gradcam", "ig", "lime", "fusion"]
    assert len(case.picture.case_id) == 64 and case.dataset == "upload"
