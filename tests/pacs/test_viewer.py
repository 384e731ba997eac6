"""medxai's results in a radiologist's web viewer: OHIF Viewer (the npm package `@ohif/app`'s prebuilt app, fetched
by `make ohif`) served by `pacs.viewer` against the test Orthanc, driven by Playwright in Debian's Chromium. The
study lists every result series by name; the report's finding region is drawn on the source image with its
probabilities; the fused Parametric Map overlays its source image where the source's own bright spot is."""

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medxai.triton_server import free_port
from pacs.dicomweb import store
from pacs.explanation import Explanation
from pacs.results import result_objects
from pacs.synthetic import synthetic_study
from pacs.viewer import OHIF_VERSION, ViewerServer, ohif_dist

OHIF = Path(__file__).resolve().parents[2] / ".cache" / "ohif" / OHIF_VERSION
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SPOT = (80, 40)
"""(column, row) of the source's bright spot and of the map's peak, on a 128 px image."""


def spot_study():
    """A CT image with one bright spot and an explanation whose maps peak on it (no model needed: what is tested
    is how a viewer shows the objects medxai writes)."""
    rows, columns = np.mgrid[0:128, 0:128]
    image = 0.3 + 0.5 * np.exp(-((columns - SPOT[0]) ** 2 + (rows - SPOT[1]) ** 2) / 200.0)
    image += 0.05 * np.random.default_rng(0).random(image.shape)
    source = synthetic_study([np.clip(image, 0, 1)], ["CT"])[0]
    rows, columns = np.mgrid[0:64, 0:64]
    peak = np.exp(-((columns - SPOT[0] / 2) ** 2 + (rows - SPOT[1] / 2) ** 2) / 50.0).astype(np.float32)
    explanation = Explanation(request_id="r", model_name="phantom", model_version="1", checkpoint_sha256="ef56" * 16,
                              class_names=["benign", "malignant"], probabilities={"benign": 0.2, "malignant": 0.8},
                              predicted="malignant", target="malignant",
                              maps={"cam": peak, "ig": peak, "lime": peak, "fusion": peak},
                              diagnostics={"ig": {"completeness_gap": 0.012}, "lime": {"r2": 0.7}})
    return source, result_objects(source, explanation)


def centre(weights: np.ndarray) -> np.ndarray:
    """(x, y) centre of the top 2 % of `weights`."""
    rows, columns = np.nonzero(weights >= np.quantile(weights, 0.98))
    return np.array([columns.mean(), rows.mean()])


@pytest.mark.slow
def test_ohif_lists_draws_and_overlays_the_results(orthanc_server, pacs_settings, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    if not (OHIF / "package" / "dist" / "index.html").is_file():
        pytest.skip(f"OHIF Viewer is not fetched ({OHIF} is empty): run `make ohif` (needs npm)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
    source, results = spot_study()
    store(pacs_settings, [source, *results], str(source.StudyInstanceUID))
    with ViewerServer(ohif_dist(OHIF), pacs_settings, free_port()) as viewer, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(viewer.study_url(str(source.StudyInstanceUID)))
        for name in ("medxai overlay: series 1", "medxai Fused map: series 1", "medxai Integrated Gradients",
                     "medxai LIME: series 1", "medxai Class-activation map", "medxai report: series 1"):
            expect(page.get_by_text(name).first).to_be_visible(timeout=120_000)
        for label in ("Skip all", "Confirm and hide"):  # OHIF's first-visit tour and notice, once they show
            try:
                page.get_by_text(label).first.click(timeout=15_000)
            except PlaywrightTimeout:
                pass
        viewport = page.locator(".cornerstone-canvas").first

        label = page.get_by_text("Probability of malignant: 80.00 %").first  # the SR's region, labelled
        page.wait_for_load_state("networkidle")
        time.sleep(5)  # OHIF maps an SR's regions onto images whose metadata it holds: let the study settle
        for _ in range(3):  # a double-click while OHIF is still busy loading can be lost: try again
            page.get_by_text("medxai report: series 1").dblclick()  # the SR: its region on the source image
            page.wait_for_load_state("networkidle")
            viewport.hover()  # cornerstone draws annotations on its next render
            try:
                expect(label).to_be_visible(timeout=20_000)
                break
            except AssertionError:
                page.get_by_text("medxai overlay: series 1").dblclick()  # another display set, then the SR again
                time.sleep(3)
        expect(label).to_be_visible(timeout=1_000)
        time.sleep(2)
        page.screenshot(path=str(tmp_path / "ohif-report.png"))
        shown = np.asarray(Image.open(io.BytesIO(viewport.screenshot(path=str(tmp_path / "source.png")))).convert("RGB"), float)
        bright = centre(shown.mean(axis=2))  # the source's spot, as the viewer draws it

        page.get_by_text("medxai Fused map: series 1").dblclick()  # the Parametric Map fused on its source
        time.sleep(8)
        page.screenshot(path=str(tmp_path / "ohif-fused-map.png"))
        fused = np.asarray(Image.open(io.BytesIO(viewport.screenshot(path=str(tmp_path / "fused.png")))).convert("RGB"), float)
        colourful = centre(fused.max(axis=2) - fused.min(axis=2))  # where the colour map is drawn
        browser.close()
    width = shown.shape[1]
    assert np.linalg.norm(bright - colourful) < 0.05 * width, (bright, colourful)  # aligned on the source
    if target := os.environ.get("MEDXAI_SCREENSHOT_DIR"):  # the README's pictures
        for name in ("ohif-report.png", "ohif-fused-map.png"):
            shutil.copy(tmp_path / name, Path(target) / name)
