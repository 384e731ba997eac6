import io

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medxai.data.decode import array_to_pixels, read_image
from medxai.errors import UserError


def dicom_bytes(pixels: np.ndarray, photometric: str = "MONOCHROME2", **tags) -> bytes:
    """A minimal single- or multi-frame DICOM file with a patient name (PHI that must never leak)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "SECRET-123"
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ramp(rows: int = 16, cols: int = 16) -> np.ndarray:
    return np.tile(np.arange(cols, dtype=np.uint16) * 100, (rows, 1))


def test_png_jpeg_and_grayscale_become_rgb_in_unit_range(tmp_path):
    gray = (np.arange(64 * 64) % 256).reshape(64, 64).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(np.stack([gray] * 3, axis=2)).save(tmp_path / "c.jpg", quality=95)
    png = read_image(tmp_path / "g.png")
    assert png.shape == (64, 64, 3) and png.dtype == np.float32
    assert np.allclose(png[..., 0], gray / 255.0) and np.array_equal(png[..., 0], png[..., 2])
    assert abs(read_image((tmp_path / "c.jpg").read_bytes()).mean() - gray.mean() / 255) < 0.02


def test_dicom_monochrome2_is_scaled_to_unit_range():
    pixels = read_image(dicom_bytes(ramp()))
    assert pixels.shape == (16, 16, 3)
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == pytest.approx(1.0)
    assert np.all(np.diff(pixels[0, :, 0]) > 0)


def test_dicom_monochrome1_is_inverted():
    pixels = read_image(dicom_bytes(ramp(), "MONOCHROME1"))
    assert pixels[0, 0, 0] == pytest.approx(1.0) and pixels[0, -1, 0] == 0


def test_dicom_rescale_and_window_are_applied():
    # rescale to HU-like values (-1000 .. 500), then a window of centre 0, width 200 clips both ends
    data = dicom_bytes(ramp(), RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=0, WindowWidth=200)
    pixels = read_image(data)[0, :, 0]
    raw = ramp()[0].astype(float) - 1000
    assert np.all(pixels[raw <= -100] == 0) and np.all(pixels[raw >= 100] == pytest.approx(1.0))
    inside = (raw > -100) & (raw < 100)
    assert inside.any() and np.all((pixels[inside] > 0) & (pixels[inside] < 1))


def test_multi_frame_dicom_is_refused_clearly():
    with pytest.raises(UserError, match="multi-frame DICOM \\(3 frames\\)"):
        read_image(dicom_bytes(np.stack([ramp()] * 3)))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"not an image at all", "not a PNG, JPEG, TIFF, DICOM or NumPy .npy image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a readable"),
])
def test_bad_bytes_are_user_errors(data, message):
    with pytest.raises(UserError, match=message):
        read_image(data)


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    Image.new("L", (4000, 4000)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match="exceeds the limit"):
        read_image(tmp_path / "big.png", max_pixels=1_000_000)


def test_raw_arrays_are_checked():
    assert array_to_pixels(np.full((16, 16), 255, np.uint8)).max() == 1.0
    for bad, message in [(np.full((16, 16), np.nan, np.float32), "NaN"), (np.zeros((4, 4), np.uint8), "at least 8 pixels"),
                         (np.zeros((16, 16), np.int64), "dtype"), (np.full((16, 16), 2.0), "lie in")]:
        with pytest.raises(UserError, match=message):
            array_to_pixels(bad)
