"""Every file of ../shared/cases through the dashboard's decode and display path (`load_picture`, `windowed`):
the image the model gets and the reviewer sees, or the refusal the review page shows; and uploads of the
cases that used to break the page, against the real service."""

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import apply_modality_lut

from dashboard.imaging import WINDOW_PRESETS, load_picture, windowed
from medxai.errors import UserError
from tests.dashboard.conftest import open_page
from tests.dashboard.test_imaging import correlation


def picture(cases, name):
    return load_picture((cases / name).read_bytes())


@pytest.mark.parametrize("preset", list(WINDOW_PRESETS))
def test_ct_monochrome1_and_2_same_model_input_and_presets_follow_it(shared_cases, preset):
    first, second = picture(shared_cases, "ct_monochrome1.dcm"), picture(shared_cases, "ct_monochrome2.dcm")
    assert np.array_equal(first.pixels, second.pixels)
    width, level = WINDOW_PRESETS[preset]
    for name, shown_picture in (("ct_monochrome1.dcm", first), ("ct_monochrome2.dcm", second)):
        dataset = pydicom.dcmread(shared_cases / name)
        units = apply_modality_lut(dataset.pixel_array, dataset)
        expected = np.clip((units - (level - width / 2)) / width, 0, 1)  # the preset on the file's own units
        if dataset.PhotometricInterpretation == "MONOCHROME1":
            expected = 1 - expected  # then the polarity: minimum shown white
        shown = windowed(shown_picture, preset)
        assert np.allclose(shown[..., 0], expected, atol=1e-6)
        assert correlation(shown, shown_picture.pixels) > 0.8, (name, preset)  # was -0.86 to -1.00 for MONOCHROME1


def test_colour_dicom_is_the_png(shared_cases):
    png = picture(shared_cases, "colour.png").pixels
    assert np.array_equal(picture(shared_cases, "colour_rgb.dcm").pixels, png)
    assert np.abs(picture(shared_cases, "colour_ybr_full.dcm").pixels - png).max() <= 1 / 255 + 1e-6
    assert not picture(shared_cases, "colour_rgb.dcm").windows


def test_window_width_below_one_is_shown_over_its_range_with_a_note(shared_cases):
    shown = picture(shared_cases, "window_width_below_one.dcm")
    dataset = pydicom.dcmread(shared_cases / "window_width_below_one.dcm")
    units = apply_modality_lut(dataset.pixel_array, dataset)
    assert np.allclose(shown.pixels[..., 0], (units - units.min()) / np.ptp(units), atol=1e-6)
    assert len(shown.notes) == 1 and "Window Width must be greater than or equal to 1" in shown.notes[0]
    assert windowed(shown, "brain").shape == shown.pixels.shape  # presets still work on it


def test_float_tiff_stretched_and_its_nan_twin_refused_with_the_count(shared_cases):
    values = np.asarray(Image.open(shared_cases / "float.tif"), dtype=np.float64)
    assert np.allclose(picture(shared_cases, "float.tif").pixels[..., 0], (values - values.min()) / np.ptp(values),
                       atol=1e-6)
    with pytest.raises(UserError, match="image has 1 non-finite value \\(NaN or infinity\\) among 65536"):
        picture(shared_cases, "float_one_nan.tif")


def test_exif_orientation_6_is_shown_upright(shared_cases):
    upright = picture(shared_cases, "upright.jpg").pixels
    rotated = picture(shared_cases, "exif_orientation_6.jpg").pixels
    assert rotated.shape == upright.shape == (200, 256, 3)
    assert np.abs(rotated - upright).mean() < 0.01  # two JPEG encodings of the same picture


def test_one_pixel_is_refused_the_same_in_every_format(shared_cases):
    for name in ("one_pixel.png", "one_pixel.npy"):
        with pytest.raises(UserError, match="image of 1x1 pixels is too small: width and height must be at least 8"):
            picture(shared_cases, name)


def test_black_is_black(shared_cases):
    assert not picture(shared_cases, "black.png").pixels.any()


def upload(app, cases, name: str) -> None:
    app.file_uploader(key="upload").set_value((name, (cases / name).read_bytes(), "application/octet-stream"))
    app.run()


def test_review_page_uploads_of_the_cases(dashboard_settings, shared_cases):
    """The page's own path: a refusal as its one-line message, the out-of-standard window as a warning with the
    maps (it was a Streamlit exception box), and the black image's diagnostics as undefined, not perfect."""
    app = open_page("pages/review.py")
    upload(app, shared_cases, "float_one_nan.tif")
    assert not app.exception
    assert [element.value for element in app.error] == [
        "This image cannot be used: image has 1 non-finite value (NaN or infinity) among 65536: repair or remove "
        "them before sending it"]

    app.sidebar.checkbox(key="research").check()  # the cases are not the phantom model's kind: research answers
    upload(app, shared_cases, "window_width_below_one.dcm")
    assert not app.exception and not app.error, app.error
    assert any("outside the standard" in element.value for element in app.warning)
    assert list(app.session_state["case"].maps) == ["cam", "ig", "fusion", "lime"]

    upload(app, shared_cases, "black.png")
    assert not app.exception and not app.error, app.error
    text = " | ".join(element.value for element in app.caption)
    assert "IG completeness gap undefined: the image equals IG's baseline" in text
    assert "LIME surrogate R² undefined" in text
    assert "IG completeness gap 0.0 %" not in text and "LIME surrogate R² 1.00" not in text
