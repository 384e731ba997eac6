import io

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medxai.data.decode import MIN_SIDE, DecodeWarning, array_to_pixels, image_format, read_image
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
    ds.PixelData = pixels.astype(np.uint8 if ds.BitsAllocated == 8 else np.uint16).tobytes()
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
    for bad, message in [(np.full((16, 16), np.nan, np.float32), "NaN"),
                         (np.zeros((4, 4), np.uint8), "at least 8 pixels"),
                         (np.zeros((16, 16), np.int64), "dtype"), (np.full((16, 16), 2.0), "lie in")]:
        with pytest.raises(UserError, match=message):
            array_to_pixels(bad)


# Variants of the kinds in ../shared/cases, made here: EXIF orientations, out-of-standard windows, every
# photometric interpretation pydicom decodes, non-finite values, the one minimum size.

def upright_image() -> np.ndarray:
    """A non-square picture with no symmetry: every orientation of it is distinct."""
    rows, cols = np.mgrid[0:24, 0:40]
    return np.stack([rows * 10, cols * 6, (rows * cols) % 251], axis=2).astype(np.uint8)


STORED_FOR_ORIENTATION = {  # EXIF 274 value -> how the camera stored the upright picture (TIFF 6.0, Orientation)
    1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
    5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, 1), 7: lambda a: np.swapaxes(np.rot90(a, 2), 0, 1),
    8: lambda a: np.rot90(a, -1),
}


@pytest.mark.parametrize("orientation", list(STORED_FOR_ORIENTATION))
@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_every_exif_orientation_is_read_upright(orientation, kind):
    upright = upright_image()
    stored = Image.fromarray(np.ascontiguousarray(STORED_FOR_ORIENTATION[orientation](upright)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, format=kind, exif=exif, **({"quality": 100, "subsampling": 0} if kind == "JPEG" else {}))
    pixels = read_image(buffer.getvalue())
    assert pixels.shape == (24, 40, 3)
    assert np.abs(pixels - upright / 255.0).max() <= (1e-6 if kind == "PNG" else 8 / 255)


CT = np.tile(np.arange(16, dtype=np.uint16) * 100, (16, 1))


@pytest.mark.parametrize("window", [
    {"WindowCenter": 0.5, "WindowWidth": 0.9},  # the shared case's kind: a width under 1 for LINEAR
    {"WindowCenter": 40, "WindowWidth": 0},
    {"WindowCenter": 40, "WindowWidth": -400},
    {"WindowCenter": 40, "WindowWidth": 400, "VOILUTFunction": "GAMMA"},
    {"WindowCenter": 40, "WindowWidth": 0, "VOILUTFunction": "SIGMOID"},
    {"WindowCenter": 40, "WindowWidth": 0, "VOILUTFunction": "LINEAR_EXACT"},
])
def test_out_of_standard_windows_fall_back_to_the_data_range_with_a_warning(window):
    plain = read_image(dicom_bytes(CT))
    with pytest.warns(DecodeWarning, match="outside the standard"):
        pixels = read_image(dicom_bytes(CT, **window))
    assert np.array_equal(pixels, plain)


def test_a_window_maps_its_output_range_not_the_images_range():
    """A viewer shows an image lying wholly above its window as white and one inside it as grey, not stretched."""
    above = read_image(dicom_bytes(CT + 3000, WindowCenter=1000, WindowWidth=201))
    assert np.all(above == 1.0)
    inside = read_image(dicom_bytes(np.full((16, 16), 1000, np.uint16), WindowCenter=1000.5, WindowWidth=2001))
    assert np.allclose(inside, 0.5, atol=1e-3)


def test_a_sub_unit_window_is_valid_for_linear_exact():
    data = dicom_bytes(CT, RescaleSlope=1 / 1500, RescaleIntercept=0, WindowCenter=0.5, WindowWidth=0.9,
                       VOILUTFunction="LINEAR_EXACT")
    pixels = read_image(data)[0, :, 0]
    values = CT[0] / 1500
    assert np.allclose(pixels, np.clip((values - 0.5) / 0.9 + 0.5, 0, 1), atol=1e-6)


def test_monochrome1_is_the_inverse_of_monochrome2_under_any_window():
    for window in ({}, {"WindowCenter": 700, "WindowWidth": 500}):
        assert np.allclose(read_image(dicom_bytes(CT, "MONOCHROME1", **window)),
                           1 - read_image(dicom_bytes(CT, "MONOCHROME2", **window)))


def colour_dicom(pixels: np.ndarray, photometric: str, transfer_syntax=None, fragment: bytes | None = None) -> bytes:
    """An 8-bit colour DICOM: native RGB/YBR_FULL pixels, or one compressed frame (JPEG, JPEG 2000)."""
    from pydicom.encaps import encapsulate
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, photometric, 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    if fragment is None:
        ds.PixelData = pixels.tobytes()
    else:
        ds.PixelData = encapsulate([fragment])
        ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def compressed(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, **options)
    return buffer.getvalue()


def colour_pixels() -> np.ndarray:
    rows, cols = np.mgrid[0:32, 0:48]
    return np.stack([200 - rows * 3, 60 + cols * 2, (rows * cols) % 200 + 30], axis=2).astype(np.uint8)


def test_colour_dicom_gives_what_the_same_pixels_give_as_png():
    """Every colour photometric interpretation: the same model input as the PNG (or, for lossy JPEG and
    JPEG 2000, as the same compressed stream read as a plain file), divided by 255, converted to RGB once."""
    from pydicom.pixels import convert_color_space
    from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit
    rgb = colour_pixels()
    png = read_image(compressed(rgb, format="PNG"))
    assert np.array_equal(read_image(colour_dicom(rgb, "RGB")), png)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    assert np.abs(read_image(colour_dicom(ybr, "YBR_FULL")) - png).max() <= 1 / 255 + 1e-6
    lossless = compressed(rgb, format="JPEG2000", irreversible=False, mct=1, no_jp2=True)
    assert np.array_equal(read_image(colour_dicom(rgb, "YBR_RCT", JPEG2000Lossless, lossless)), png)
    for photometric, syntax, stream in [
            ("YBR_FULL_422", JPEGBaseline8Bit, compressed(rgb, format="JPEG", quality=95, subsampling=1)),
            ("YBR_ICT", JPEG2000, compressed(rgb, format="JPEG2000", irreversible=True, mct=1, no_jp2=True))]:
        pixels = read_image(colour_dicom(rgb, photometric, syntax, stream))
        decoded = np.asarray(Image.open(io.BytesIO(stream)).convert("RGB")) / 255.0  # the stream as a plain file
        assert np.abs(pixels - decoded).max() < 1e-6, photometric
        assert np.abs(pixels - png).mean() < 0.05, photometric  # lossy, but not converted twice (~0.2)


def test_palette_colour_dicom_goes_through_its_lookup_tables():
    ds = Dataset()
    index = np.arange(256, dtype=np.uint8).reshape(16, 16)
    lut = np.arange(256, dtype="<u2") * 257
    for colour, values in (("Red", lut), ("Green", lut[::-1]), ("Blue", np.zeros(256, "<u2"))):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", values.copy().tobytes())
    data = dicom_bytes(index, "PALETTE COLOR", BitsAllocated=8, BitsStored=8, HighBit=7, **{
        element.keyword: element.value for element in ds})
    pixels = read_image(data)
    assert pixels[0, 0].tolist() == [0, 1, 0] and pixels[-1, -1].tolist() == [1, 0, 0]


def float_dicom(values: np.ndarray) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map: float pixel data
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.BitsAllocated = 1, "MONOCHROME2", 32
    ds.FloatPixelData = values.astype("<f4").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_non_finite_values_are_refused_with_their_count_in_every_format():
    values = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    assert read_image(float_dicom(values))[..., 0] == pytest.approx(values)
    values[3, 3], values[4, 4] = np.nan, np.inf
    with pytest.raises(UserError, match="DICOM pixel data has 2 non-finite values \\(NaN or infinity\\) among 256"):
        read_image(float_dicom(values))
    with pytest.raises(UserError, match="image has 2 non-finite values"):
        read_image(compressed(values, format="TIFF"))
    with pytest.raises(UserError, match="image array has 2 non-finite values"):
        array_to_pixels(values)
    buffer = io.BytesIO()
    np.save(buffer, values)
    with pytest.raises(UserError, match="image array has 2 non-finite values"):
        read_image(buffer.getvalue())


def encodings(gray: np.ndarray) -> dict[str, bytes]:
    """The same 8-bit gray picture in every accepted format."""
    npy = io.BytesIO()
    np.save(npy, gray)
    return {"PNG": compressed(gray, format="PNG"), "JPEG": compressed(gray, format="JPEG"),
            "TIFF": compressed(gray, format="TIFF"), "DICOM": dicom_bytes(gray), "NumPy .npy": npy.getvalue()}


@pytest.mark.parametrize("shape", [(1, 1), (7, 64), (64, 7)])
def test_one_minimum_size_for_every_format(shape):
    for kind, data in encodings(np.full(shape, 90, np.uint8)).items():
        with pytest.raises(UserError, match=f"is too small: width and height must be at least {MIN_SIDE} pixels"):
            read_image(data)
    for kind, data in encodings(np.full((MIN_SIDE, MIN_SIDE), 90, np.uint8)).items():
        assert read_image(data).shape == (MIN_SIDE, MIN_SIDE, 3), kind


def test_formats_are_recognised_by_content_and_others_refused():
    for kind, data in encodings(np.full((16, 16), 90, np.uint8)).items():
        assert image_format(data) == kind
    for kind in ("BMP", "GIF", "WEBP"):
        with pytest.raises(UserError, match="not a PNG, JPEG, TIFF, DICOM or NumPy .npy image"):
            read_image(compressed(np.zeros((16, 16), np.uint8), format=kind))


def test_a_npy_header_is_checked_before_numpy_allocates_its_shape():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((16, 16), np.uint8))
    hostile = buffer.getvalue().replace(b"(16, 16)", b"(99999999, 99999)")
    with pytest.raises(UserError, match="exceeds the limit"):
        read_image(hostile)
    with pytest.raises(UserError, match="is truncated"):
        read_image(buffer.getvalue()[:-10])


def test_a_voi_lut_is_applied_and_scaled_from_its_output_range():
    item = Dataset()
    item.LUTDescriptor = [2048, 0, 12]
    item.add_new("LUTData", "US", [min(2 * value, 4095) for value in range(2048)])
    pixels = read_image(dicom_bytes(CT, VOILUTSequence=[item], WindowCenter=40, WindowWidth=80))  # the LUT wins
    assert pixels[0, :, 0] == pytest.approx(np.minimum(2 * CT[0], 4094) / 4094, abs=1e-6)


@pytest.mark.parametrize("compressed, reference", [
    ("MR_small_RLE.dcm", "MR_small.dcm"),                 # RLE Lossless
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),    # JPEG-LS Lossless
    ("MR2_J2KR.dcm", "MR2_UNCR.dcm"),                     # JPEG 2000 Lossless, an oblique MR
    ("US1_J2KR.dcm", "US1_UNCR.dcm"),                     # JPEG 2000 Lossless, YBR_RCT colour
    ("SC_rgb_rle.dcm", "SC_rgb.dcm"),                     # RLE Lossless, RGB
])
def test_compressed_dicom_decodes_as_its_uncompressed_original(compressed, reference):
    """What PACS archives send (pydicom's test files, compressed losslessly) reads exactly as the same image
    uncompressed: the decoder plugins are core dependencies, in every front end."""
    from tests.pacs.corpus import named
    assert np.array_equal(read_image(named(compressed).read_bytes()), read_image(named(reference).read_bytes()))


@pytest.mark.parametrize("name", ["JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEG-LL.dcm", "SC_rgb_jpeg_dcmtk.dcm",
                                  "JPEGLSNearLossless_08.dcm", "MR2_J2KI.dcm"])
def test_lossless_lossy_and_near_lossless_jpeg_decode_as_pydicom_does(name):
    """JPEG Lossless SV1, JPEG baseline and JPEG-LS near-lossless: the pixels pydicom decodes, through the
    same grayscale or colour pipeline (not only 'no error')."""
    import pydicom

    from medxai.data.dicom import displayed
    from tests.pacs.corpus import named
    pixels = read_image(named(name).read_bytes())
    dataset = pydicom.dcmread(named(name))
    assert pixels.shape[:2] == (dataset.Rows, dataset.Columns)
    assert np.array_equal(pixels, displayed(dataset, 10**8))
    assert float(pixels.max()) > float(pixels.min())  # an image, not a blank


def test_multi_frame_dicom_reads_frame_by_frame():
    """An Enhanced MR of 10 frames (pydicom's emri_small, and the same RLE-compressed): ten images, each as the
    frame alone would read; compression changes none of them; a single-frame file is its one frame."""
    import pydicom

    from medxai.data.decode import read_frames
    from medxai.data.dicom import displayed
    from medxai.data.frames import frame_images
    from tests.pacs.corpus import named
    frames = read_frames(named("emri_small.dcm"))
    assert len(frames) == 10 and all(frame.shape == (64, 64, 3) for frame in frames)
    alone = frame_images(pydicom.dcmread(named("emri_small.dcm")))
    assert all(np.array_equal(frame, displayed(single, 10**8)) for frame, single in zip(frames, alone))
    assert not np.array_equal(frames[0], frames[5])  # frames, not one frame ten times
    assert all(np.array_equal(a, b) for a, b in zip(frames, read_frames(named("emri_small_RLE.dcm"))))
    assert [f.shape for f in read_frames(named("MR_small.dcm"))] == [(64, 64, 3)]
    with pytest.raises(UserError, match="for all frames together"):
        read_frames(named("emri_small.dcm"), max_pixels=64 * 64 * 5)
