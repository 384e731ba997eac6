"""End to end in a real browser: `medxai dashboard` (streamlit run) on the real Triton + service, Debian's
headless chromium driven by Playwright. Upload a phantom, wait for the fused overlay, rate two maps, kill the
app with SIGKILL right after the second acknowledgement, and find both ratings in SQLite."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.ratings import RatingStore
from medxai.triton_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 240_000


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the dashboard exited while starting"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@pytest.fixture
def dashboard_process(service, triton, repository, tmp_path):
    port = free_port()
    ratings_db = tmp_path / "ratings.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "medxai", "dashboard", "--service", f"127.0.0.1:{service.port}", "--port", str(port),
         "--ratings-db", str(ratings_db), "--model-repository", str(repository),
         "--service-metrics", f"http://127.0.0.1:{service.config.metrics_port}/metrics",
         "--triton-metrics", triton.metrics_url],
        stdout=open(tmp_path / "dashboard.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield f"http://127.0.0.1:{port}", ratings_db, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_review_and_rate_in_chromium(dashboard_process, lesion_image, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright
    url, ratings_db, process = dashboard_process
    image = tmp_path / "phantom.png"
    image.write_bytes(lesion_image)
    screenshots = tmp_path / "screenshots"
    screenshots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.goto(url)
        page.get_by_label("Reviewer name").fill("dr_browser")
        page.get_by_label("Reviewer name").press("Enter")
        page.locator("input[type=file]").set_input_files(str(image))
        expect(page.get_by_text("Fused map overlay")).to_be_visible()
        expect(page.get_by_role("button", name="Plot deletion and insertion curves")).to_be_visible()  # settled
        page.screenshot(path=str(screenshots / "review.png"))

        page.get_by_role("link", name="Rating").click()
        forms = page.locator("[data-testid=stForm]")
        expect(forms).to_have_count(4)
        for index, score in ((3, "4"), (0, "2")):  # the fused map, then the class-activation map
            forms.nth(index).get_by_text(score, exact=True).click()
            forms.nth(index).get_by_role("button", name="Save rating").click()
            expect(page.get_by_text("Saved (rating #")).to_have_count(1 if index == 3 else 2)
        page.screenshot(path=str(screenshots / "rating.png"))
        os.killpg(process.pid, signal.SIGKILL)  # no shutdown, no flush: what was acknowledged must be on disk
        process.wait()
        browser.close()
    stored = RatingStore(ratings_db).frame()
    assert stored[["reviewer", "method", "score"]].values.tolist() == [["dr_browser", "fusion", 4],
                                                                       ["dr_browser", "cam", 2]]
