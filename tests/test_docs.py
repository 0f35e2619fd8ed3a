"""The examples of docs/*.md run as written: every ```python block of a page, top to bottom, in one
namespace, in an empty folder (like SimpleITK's examples-as-tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(page for page in DOCS.glob("**/*.md") if "```python" in page.read_text())


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


def test_the_api_page_has_examples():
    assert DOCS / "python-api.md" in PAGES and len(python_blocks(DOCS / "python-api.md")) >= 4


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for number, block in enumerate(python_blocks(page), start=1):
        exec(compile(block, f"{page.name}, example {number}", "exec"), namespace)  # noqa: S102


def _documented() -> str:
    return "\n".join(page.read_text() for page in DOCS.glob("**/*.md"))


def test_every_command_and_option_of_the_cli_is_documented():
    import typer.main

    from radiomark.cli import app

    text = _documented()
    group = typer.main.get_command(app)
    assert len(group.commands) >= 12  # type: ignore[attr-defined]
    missing = []

    def walk(command: typer.main.TyperCommand, path: str) -> None:
        if path and f"radiomark {path}" not in text:
            missing.append(f"radiomark {path}")
        for parameter in command.params:
            for option in parameter.opts:
                if option.startswith("--") and option not in ("--help", "--version", "--install-completion",
                                                              "--show-completion") and option not in text:
                    missing.append(f"radiomark {path} {option}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(group, "")
    assert not missing, f"not in docs/: {missing}"


def test_every_output_file_is_documented():
    """Every file name the outputs, the pipeline, evaluation and training write appears in docs/."""
    source = Path(__file__).resolve().parents[1] / "src" / "radiomark"
    writers = [*source.glob("outputs/*.py"), *source.glob("pipeline/*.py"), *source.glob("training/*.py"),
               source / "evaluation.py", *source.glob("inference/export.py"), *source.glob("herniation/*.py")]
    names = {name for path in writers for name in re.findall(
        r"\"([a-z_0-9-]+\.(?:png|csv|json|html|dcm|pdf|nii\.gz|onnx|pt))\"", path.read_text())}
    assert {"measurements.json", "run.json", "cohort.csv", "level.png"} <= names
    text = _documented()
    assert sorted(name for name in names if name not in text) == []


def test_the_site_builds_offline_with_every_recipe_reference(tmp_path):
    import subprocess
    import sys

    root = DOCS.parent
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "recipes" / "sarcopenia.html").read_text()
    assert "Reference (generated from the recipe)" in page and "skeletal_muscle_index" in page
    assert "Model card" in page and "prado2008" in page
