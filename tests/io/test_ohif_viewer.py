"""The radiologists' viewer: OHIF (the released ``@ohif/app`` build from npm, unpacked by ``make test``)
pointed at a real Orthanc shows radiomark's DICOM SEG over the CT in the segments' colours, and
draws its DICOM SR measurements (each structure's outline on its key image with its values), in
headless Chromium with no errors on the console.

OHIF is served the way a site serves it: its static build and, on the same origin, the PACS's
DICOMweb (a small proxy that adds the PACS login, as a hospital's reverse proxy does)."""

from __future__ import annotations

import json
import mimetypes
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from radiomark import api
from radiomark.outputs.overlay import label_colour
from radiomark.phantoms import write_case
from tests.helpers import require_debian_packages
from tests.io.orthanc import LOGIN, free_port, upload

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: The OHIF release ``make test`` unpacks (the Makefile's OHIF_VERSION).
OHIF_DIST = Path(os.environ.get("RADIOMARK_OHIF_DIST",
                                Path(__file__).resolve().parents[2] / "build" / "ohif" / "3.12.10" / "dist"))
#: Console messages that mean OHIF failed although nothing was logged at SEVERE level.
FAILURES = ("Error Boundary", "Something went wrong")


def _config(origin: str) -> str:
    """OHIF's app-config.js: one DICOMweb source on ``origin``, no first-run tour or dialogs."""
    source = {"friendlyName": "Orthanc", "name": "orthanc", "wadoUriRoot": f"{origin}/wado",
              "qidoRoot": f"{origin}/dicom-web", "wadoRoot": f"{origin}/dicom-web",
              "qidoSupportsIncludeField": False, "imageRendering": "wadors", "thumbnailRendering": "wadors",
              "omitQuotationForMultipartRequest": True, "bulkDataURI": {"enabled": True}}
    config = {"routerBasename": "/", "extensions": [], "modes": [], "showStudyList": True,
              "defaultDataSourceName": "orthanc", "showWarningMessageForCrossOrigin": False,
              "showCPUFallbackMessage": False, "disableConfirmationPrompts": True,
              "investigationalUseDialog": {"option": "never"},
              "dataSources": [{"namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
                               "sourceName": "orthanc", "configuration": source}]}
    return f"window.config = {json.dumps(config)};"


@pytest.fixture()
def viewer(orthanc: str) -> Iterator[str]:
    """OHIF on 127.0.0.1 (its own routes fall back to index.html) with the Orthanc's DICOMweb under
    /dicom-web on the same origin; yields the viewer's URL."""
    import requests

    if not (OHIF_DIST / "index.html").is_file():
        pytest.skip(f"the OHIF viewer is not unpacked at {OHIF_DIST} (`make test` fetches @ohif/app from npm; "
                    "it needs npm)")
    pacs = orthanc.replace("dicomweb://", "http://").removesuffix("/dicom-web")
    port = free_port()
    config = _config(f"http://127.0.0.1:{port}").encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            if path.startswith("/dicom-web/"):
                answer = requests.get(pacs + self.path, headers={"Accept": self.headers.get("Accept", "*/*")},
                                      auth=(LOGIN.username, LOGIN.password), timeout=60)
                self._send(answer.status_code, answer.headers.get("Content-Type", "application/octet-stream"),
                           answer.content)
            elif path == "/app-config.js":
                self._send(200, "application/javascript", config)
            else:
                file = OHIF_DIST / path.lstrip("/")
                file = file if file.is_file() and OHIF_DIST in file.resolve().parents else OHIF_DIST / "index.html"
                kind = "application/wasm" if file.suffix == ".wasm" else mimetypes.guess_type(file.name)[0]
                self._send(200, kind or "application/octet-stream", file.read_bytes())

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def _colour_pixels(picture: Path, box: dict[str, float], colours: dict[int, tuple[int, int, int]]) -> dict[int, int]:
    """Pixels of each segment's colour (within 12 per channel) inside ``box`` (the viewport) of ``picture``."""
    rgb = np.asarray(PILImage.open(picture).convert("RGB"), dtype=np.int16)
    top, left = int(box["y"]), int(box["x"])
    crop = rgb[top:top + int(box["height"]), left:left + int(box["width"])]
    return {value: int(np.count_nonzero(np.all(np.abs(crop - np.asarray(colour)) <= 12, axis=-1)))
            for value, colour in colours.items()}


def test_ohif_shows_the_seg_over_the_ct_and_the_sr_measurements(tmp_path, orthanc, viewer):
    require_debian_packages({CHROMIUM: "chromium", CHROMEDRIVER: "chromium-driver"})
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from radiomark.recipes.brain_gwr.phantom import generate

    case = write_case(generate(0), tmp_path / "in", "dicom")
    (result,) = api.run("brain-gwr", case, tmp_path / "out", dicom_sr=True).results
    out = tmp_path / "out" / case.name
    uid = upload(orthanc, sorted(case.rglob("*.dcm")) + [out / "seg.dcm", out / "sr.dcm"])
    assert result.labels_reader is not None
    colours = {value: label_colour(value) for value in result.labels_reader().labels}

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,900", "--use-angle=swiftshader",
                     "--enable-unsafe-swiftshader", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    messages: list[dict[str, str]] = []
    try:
        driver.get(f"{viewer}/app-config.js")  # OHIF's first-run tour, marked as seen, stays away
        driver.execute_script("localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']))")
        driver.get(f"{viewer}/viewer?StudyInstanceUIDs={uid}")
        wait = WebDriverWait(driver, 120, poll_frequency=0.5)
        seg = wait.until(lambda d: d.find_element(By.XPATH, "//*[text()='SEG']"))
        viewport = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".cornerstone-viewport-element"))
        wait.until(lambda d: "I:" in d.find_element(By.TAG_NAME, "body").text)  # the first image is drawn
        box = viewport.rect
        before = tmp_path / "ohif-ct.png"
        driver.save_screenshot(str(before))
        ActionChains(driver).double_click(seg).perform()
        after = tmp_path / "ohif-seg.png"

        def segments_drawn(d: object) -> bool:
            driver.save_screenshot(str(after))
            return max(_colour_pixels(after, box, colours).values()) >= 30

        wait.until(segments_drawn)
        messages += driver.get_log("browser")
        ActionChains(driver).double_click(driver.find_element(By.XPATH, "//*[text()='SR']")).perform()

        def labels_drawn(d: object) -> list[str]:  # OHIF's SR viewport draws each outline with its values
            return [t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg.svg-layer text") if t.text]

        labels = wait.until(labels_drawn)
        outlines = driver.find_elements(By.CSS_SELECTOR, "svg.svg-layer polyline")
        time.sleep(2)  # let OHIF finish before the last look at the console
        messages += driver.get_log("browser")
        driver.save_screenshot(str(tmp_path / "ohif-sr.png"))
    finally:
        driver.quit()
    assert max(_colour_pixels(before, box, colours).values()) < 30  # the colours come from the SEG
    shown = _colour_pixels(after, box, colours)
    assert sum(count >= 30 for count in shown.values()) >= 1, shown
    assert len(outlines) >= len(labels) >= 1
    for label in labels:  # "mean hu caudate left: 34.38 Hounsfield unit": a measurement of the run, its value
        name, value = label.split(": ", 1)
        measured = result.measurements[name.replace(" ", "_")]
        assert float(value.split()[0]) == pytest.approx(measured.value, abs=0.01), label
    errors = [m["message"] for m in messages if m["level"] == "SEVERE" or any(f in m["message"] for f in FAILURES)]
    assert not errors, errors[:5]
