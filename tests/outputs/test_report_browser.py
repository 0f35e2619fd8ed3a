"""report.html renders in a real browser (headless Chromium from Debian): the overlay image loads
and the console stays free of errors. Chromium is installed by the test when it is missing and the
machine allows it (root with apt-get); otherwise the test is skipped with the reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from radiomark import api
from tests.helpers import require_debian_packages, tiny_phantoms

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def test_reports_render_with_their_pictures_and_no_console_errors(tmp_path):
    require_debian_packages({CHROMIUM: "chromium", CHROMEDRIVER: "chromium-driver"})
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    api.run("sarcopenia", study, tmp_path / "out", sex="M", height_m=1.8, weight_kg=80)
    report = tmp_path / "out" / "sarcopenia-0000" / "report.html"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    script = "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
    try:
        driver.get(report.as_uri())
        images = driver.execute_script(script)
        title = driver.title
        screenshot = tmp_path / "report-screenshot.png"
        driver.set_window_size(1100, 1800)
        assert driver.save_screenshot(str(screenshot))
        driver.get((tmp_path / "out" / "cohort.html").as_uri())
        cohort_images = driver.execute_script(script)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
    assert images and all(complete and width > 100 for _, complete, width in images), images
    assert [src for src, _, _ in images] == ["overlay.png"] and "sarcopenia-0000" in title
    assert cohort_images == []  # one case: no distribution picture (see write_cohort_report)
    assert errors == []
    with PILImage.open(screenshot) as picture:  # the screenshot shows a rendered page, not a blank one
        grey = np.asarray(picture.convert("L"))
    assert grey.shape[0] > 500 and grey.std() > 10
    print(f"report screenshot: {screenshot}")
