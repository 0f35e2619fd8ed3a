"""Makes the README's pictures (docs/images/): for each recipe with a bundled model, the overlay and
a screenshot of the report (headless Chromium) of one run on sample data — real where the
repository's neighbours hold it (an abdominal CT volume, a chest CR), phantoms otherwise.

    .venv/bin/python docs/pictures.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image as PILImage

import radiomark
from radiomark.phantoms import PhantomFormat

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
ABDOMEN = ROOT.parent / "shared" / "data" / "ct-abdomen-totalseg" / "example_ct.nii.gz"


def _cr() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("RG1_UNCR.dcm", download=False))


def _screenshot(report: Path, target: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print(f"no chromium: {target.name} skipped")
        return
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={target}", "--window-size=1000,1300", report.as_uri()],
                   check=True, capture_output=True, timeout=120)


def _small(source: Path, target: Path, width: int = 480) -> None:
    """A copy at most ``width`` pixels wide with a 128-colour palette (tens of kB in the repository)."""
    picture = PILImage.open(source).convert("RGB")
    picture.thumbnail((width, width * 4))
    picture.quantize(128).save(target, optimize=True)


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        runs = {
            "sarcopenia": (ABDOMEN if ABDOMEN.is_file() else
                           radiomark.make_phantoms("sarcopenia", folder / "s", cases=1)[0],
                           {"sex": "M", "height_m": 1.75, "weight_kg": 80}),
            "neonatal-rds": (_cr(), {}),
            "nigra": (radiomark.make_phantoms("nigra", folder / "n", cases=1, fmt=PhantomFormat.DICOM)[0], {}),
            "brain-gwr": (radiomark.make_phantoms("brain-gwr", folder / "b", cases=1)[0], {}),
        }
        for recipe, (study, clinical) in runs.items():
            case = radiomark.run(recipe, study, folder / f"{recipe}-out", **clinical).results[0]
            _small(Path(case.outputs["overlay.png"]), IMAGES / f"{recipe}-overlay.png")
            shot = folder / f"{recipe}-report.png"
            _screenshot(Path(case.outputs["report.html"]), shot)
            if shot.is_file():
                _small(shot, IMAGES / f"{recipe}-report.png")
            print(f"{recipe}: {case.finding.reason if case.finding else 'no finding'}")


if __name__ == "__main__":
    sys.exit(main())
