"""What the review page draws: DICOM through the window presets (the level lands mid-grey, values outside
the window clip), case ids from pixels only, overlays with the expert outline, IoU and pointing game."""

import io

import numpy as np
import pytest
from PIL import Image

from dashboard.imaging import WINDOW_PRESETS, blend, case_id, load_picture, localisation_scores, windowed
from tests.data.test_decode import dicom_bytes

HOUNSFIELD = [-1024, -600, 0, 40, 80, 150, 480, 1000]


def ct_picture():
    """A CT slice whose columns hold the HOUNSFIELD values (stored + 1024, rescale intercept -1024)."""
    stored = np.tile(np.repeat(np.array(HOUNSFIELD) + 1024, 2), (16, 1))
    return load_picture(dicom_bytes(stored, RescaleIntercept=-1024, RescaleSlope=1))


@pytest.mark.parametrize("preset", list(WINDOW_PRESETS))
def test_window_presets_put_the_level_at_mid_grey(preset):
    width, level = WINDOW_PRESETS[preset]
    picture = ct_picture()
    shown = windowed(picture, preset)[0, ::2, 0]  # one value per HOUNSFIELD column
    expected = np.clip((np.array(HOUNSFIELD) - (level - width / 2)) / width, 0, 1)
    assert shown == pytest.approx(expected, abs=1e-6)
    assert shown[HOUNSFIELD.index(level)] == pytest.approx(0.5)


def test_brain_window_clips_air_and_bone():
    shown = windowed(ct_picture(), "brain")[0, ::2, 0]
    assert shown[0] == 0.0 and shown[-1] == 1.0 and shown[HOUNSFIELD.index(40)] == pytest.approx(0.5)


def test_case_id_depends_on_pixels_not_on_the_file():
    picture = ct_picture()
    png = io.BytesIO()
    Image.fromarray((picture.pixels * 255).round().astype(np.uint8)).save(png, format="PNG")
    assert case_id(picture.pixels) == picture.case_id and len(picture.case_id) == 64
    assert load_picture(png.getvalue()).case_id != picture.case_id  # 8-bit PNG pixels differ from the DICOM's
    assert load_picture(dicom_bytes(np.tile(np.repeat(np.array(HOUNSFIELD) + 1024, 2), (16, 1)),
                                    RescaleIntercept=-1024, RescaleSlope=1, PatientName="Other^Name")).case_id \
        == picture.case_id


def test_overlay_outline_and_localisation():
    image = np.zeros((64, 64, 3), np.float32)
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    drawn = blend(image, mask.astype(np.float32), 0.5, mask)
    assert drawn.dtype == np.uint8 and drawn.shape == (448, 448, 3)
    assert ((drawn == (0, 255, 0)).all(axis=2)).sum() > 0  # the outline
    assert localisation_scores(mask.astype(np.float32), mask) == {"iou": 1.0, "pointing_game": 1.0}
    assert localisation_scores(1 - mask.astype(np.float32), mask)["pointing_game"] == 0.0


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("preset", list(WINDOW_PRESETS))
def test_monochrome1_presets_are_drawn_positive_like_the_model_input(preset):
    """A MONOCHROME1 file holding the same Hounsfield units is shown inverted after the window (PS3.3
    C.7.6.3.1.2), so the drawing follows the model input, never its negative."""
    stored = np.tile(np.repeat(np.array(HOUNSFIELD) + 1024, 2), (16, 1))
    second = load_picture(dicom_bytes(stored, RescaleIntercept=-1024, RescaleSlope=1))
    first = load_picture(dicom_bytes(stored, "MONOCHROME1", RescaleIntercept=-1024, RescaleSlope=1))
    assert first.windows and second.windows
    assert np.allclose(windowed(first, preset), 1 - windowed(second, preset))
    assert np.allclose(first.pixels, 1 - second.pixels)
    for picture in (first, second):
        assert correlation(windowed(picture, preset), picture.pixels) > 0.5


def test_colour_and_raster_pictures_have_no_window_presets():
    rgb = np.zeros((16, 16, 3), np.uint8)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    picture = load_picture(png.getvalue())
    assert not picture.windows and windowed(picture, "brain") is picture.pixels
