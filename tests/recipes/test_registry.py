"""The recipe registry: a recipe added from a folder outside radiomark (registered through the
``radiomark.recipes`` entry-point group) goes through phantom → train → run without a file of
radiomark changed; the CLI lists, shows and validates recipes; SR codes are unique per report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from radiomark.cli import app
from radiomark.errors import RecipeError
from radiomark.outputs.sr import sr_codes
from radiomark.phantoms import generate_case
from radiomark.recipes import biomarkers_module, load_recipe, measure_parameters, recipe_kind
from radiomark.recipes.registry import PipelineKind, entries, look_up, names

runner = CliRunner()

TOY_RECIPE = """
name: toy-disc
title: Toy disc area on a 2D CT slice
modality: CT
series: {modality: [CT]}
labels: {1: disc}
preprocessing: {window: {level: 0, width: 400}, spatial_size: [32, 32]}
augmentation: {flip_probability: 0.0, rotate_degrees: 0, scale: 0.0, noise_std: 0.0}
network: {name: unet, channels: [4, 8], strides: [2], num_res_units: 0}
loss: {name: dice_bce, bce_pos_weight: [1.0]}
training: {epochs: 1, batch_size: 2, validation_fraction: 0.5}
postprocessing: {}
measures: {structure: disc}
quality: {expected_orientation: null}
"""

TOY_BIOMARKERS = '''
"""Toy measures: the area of one structure."""
from pydantic import BaseModel

from radiomark.biomarkers.body_composition import tissue_area

CLINICAL = frozenset()
SR_CODES = {"disc_area": "TOYDA"}


class Parameters(BaseModel):
    structure: str

    def label_names(self):
        return {self.structure}


def measure(study, labels, clinical, parameters):
    area = tissue_area(labels, parameters.structure)
    return {area.name: area}
'''

TOY_PHANTOM = '''
"""Toy phantoms: a disc of known area on a 32 x 32 CT slice."""
import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study


def generate(seed):
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[:32, :32]
    radius = rng.uniform(5, 9)
    disc = (rows - 16) ** 2 + (columns - 16) ** 2 <= radius ** 2
    hu = np.where(disc, 60, -100).astype(np.int16)
    image = Image(hu, (1.0, 1.0), (0.0, 0.0, 0.0), metadata={"modality": "CT"})
    labels = LabelMap.like(image, disc.astype(np.uint8), {1: "disc"})
    case_id = f"toy-disc-{seed:04d}"
    spec = DicomSeriesSpec("CT", "toy", 1, intercept=-1024.0)
    return PhantomCase("toy-disc", case_id, seed, make_study(case_id), (PhantomSeries("ct", image, spec),), labels,
                       {"disc_area_cm2": float(disc.sum()) / 100.0})
'''


@pytest.fixture
def toy_recipe(tmp_path, monkeypatch) -> Path:
    """A recipe package and its distribution metadata in a temporary folder on ``sys.path``:
    registered through the entry point exactly as an installed plug-in is."""
    site = tmp_path / "site"
    package = site / "toyrecipe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "recipe.yaml").write_text(TOY_RECIPE)
    (package / "biomarkers.py").write_text(textwrap.dedent(TOY_BIOMARKERS))
    (package / "phantom.py").write_text(textwrap.dedent(TOY_PHANTOM))
    metadata = site / "toy_recipe-0.1.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-recipe\nVersion: 0.1\n")
    (metadata / "entry_points.txt").write_text("[radiomark.recipes]\ntoy-disc = toyrecipe\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_recipe_from_a_folder_runs_phantom_train_and_run(toy_recipe, tmp_path):
    assert "toy-disc" in names() and "sarcopenia" in names()
    listed = runner.invoke(app, ["recipes", "list"])
    assert listed.exit_code == 0 and "toy-disc" in listed.stdout and "toyrecipe" in listed.stdout
    made = runner.invoke(app, ["phantom", "toy-disc", str(tmp_path / "data"), "--cases", "4", "--format", "nifti"])
    assert made.exit_code == 0, made.output
    trained = runner.invoke(app, ["train", "toy-disc", "--data", str(tmp_path / "data"), "--out",
                                  str(tmp_path / "model"), "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "model" / "fold_0" / "best.pt").is_file()
    case = tmp_path / "data" / "toy-disc-0001"
    ran = runner.invoke(app, ["run", "toy-disc", str(case / "ct.nii.gz"), "--model", str(tmp_path / "model"),
                              "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    document = json.loads((tmp_path / "out" / "ct" / "measurements.json").read_text())
    assert document["recipe"] == "toy-disc"
    assert [m["name"] for m in document["measurements"]] == ["disc_area"]
    refused = runner.invoke(app, ["run", "toy-disc", str(case / "ct.nii.gz"), "--model", str(tmp_path / "model"),
                                  "--out", str(tmp_path / "out2"), "--height", "1.7"])
    assert refused.exit_code == 2 and "--height does not apply to recipe toy-disc" in refused.output


def test_every_recipe_package_has_the_same_files_and_loads():
    for entry in entries().values():
        kind = recipe_kind(entry.name)
        assert callable(entry.module("phantom").generate), entry.name
        if kind is PipelineKind.SEGMENT_MEASURE:
            recipe = load_recipe(entry.name)
            module = biomarkers_module(recipe)
            assert callable(module.measure) and isinstance(module.CLINICAL, frozenset), entry.name
            assert measure_parameters(recipe).label_names() <= set(recipe.labels.values())


def test_unknown_names_and_broken_registrations_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(RecipeError, match=r"unknown recipe 'sarcopaenia' \(recipes: .*\); did you mean 'sarcopenia'"):
        look_up("sarcopaenia")
    metadata = tmp_path / "broken-0.1.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (metadata / "entry_points.txt").write_text("[radiomark.recipes]\nbroken = no_such_package\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RecipeError, match="recipe 'broken' is registered as package 'no_such_package', which has no "
                                          "recipe.yaml"):
        load_recipe("broken")
    result = runner.invoke(app, ["run", "sarcopaenia", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "did you mean 'sarcopenia'" in result.output


@pytest.mark.parametrize("recipe", ["sarcopenia", "neonatal-rds", "nigra", "brain-gwr"])
def test_sr_codes_are_unique_within_every_recipe_report(recipe):
    from radiomark.case import Clinical
    from radiomark.io.study import StudyImages
    from radiomark.pipeline.steps import measure

    loaded = load_recipe(recipe)
    case = generate_case(recipe, 3)
    clinical = Clinical(sex="F", height_m=1.6, weight_kg=60.0)
    measurements = measure(loaded, StudyImages(tuple(s.image for s in case.series[:1])), case.labels, clinical)
    measurements[f"{loaded.labels[1]}_x_probability"] = measurements[next(iter(measurements))]  # a classifier's
    codes = sr_codes(measurements, biomarkers_module(loaded).SR_CODES)
    assert len(set(codes.values())) == len(codes) == len(measurements)
    assert all(0 < len(code) <= 16 for code in codes.values())


def test_sr_codes_that_would_repeat_are_refused():
    from radiomark.biomarkers.measurement import Measurement, Unit

    two = {name: Measurement(name, 1.0, Unit.MM3, "test") for name in ("left_volume", "right_volume")}
    assert sr_codes(two, {}) == {"left_volume": "left_volume", "right_volume": "right_volume"}
    long = {name: Measurement(name, 1.0, Unit.MM3, "test") for name in ("substantia_nigra_right_volume",
                                                                        "substantia_nigra_left_volume")}
    assert len(set(sr_codes(long, {}).values())) == 2  # the first 16 characters would collide
    with pytest.raises(Exception, match="DICOM SR code values repeat within one report: SAME"):
        sr_codes(two, {"left_volume": "SAME", "right_volume": "SAME"})


def test_recipes_show_and_validate(tmp_path):
    shown = runner.invoke(app, ["recipes", "show", "sarcopenia"])
    assert shown.exit_code == 0 and "cutoff_tables:" in shown.stdout
    document = yaml.safe_load(look_up("sarcopenia").yaml_text())
    edited = tmp_path / "my-sarcopenia.yaml"
    edited.write_text(yaml.safe_dump({**document, "name": "my-sarcopenia", "based_on": "sarcopenia"}))
    valid = runner.invoke(app, ["recipes", "validate", str(edited)])
    assert valid.exit_code == 0 and "valid segment_measure recipe my-sarcopenia (code of sarcopenia)" in valid.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**document, "measures": {**document["measures"], "muscle": "bone"}}))
    invalid = runner.invoke(app, ["recipes", "validate", str(broken)])
    assert invalid.exit_code == 2 and "measures name unknown labels ['bone']" in invalid.output
    fusion = runner.invoke(app, ["recipes", "validate", str(_written(tmp_path, "disc-herniation"))])
    assert fusion.exit_code == 0 and "valid fusion_classify recipe disc-herniation" in fusion.stdout


def _written(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(look_up(name).yaml_text())
    return path


def test_run_takes_an_edited_recipe_and_refuses_one_the_model_does_not_fit(tmp_path):
    from radiomark.phantoms import write_case

    study = write_case(generate_case("sarcopenia", 2), tmp_path / "in", "nifti") / "ct_l3.nii.gz"
    document = yaml.safe_load(look_up("sarcopenia").yaml_text())
    edited = tmp_path / "my-sarcopenia.yaml"
    edited.write_text(yaml.safe_dump({**document, "name": "my-sarcopenia", "based_on": "sarcopenia",
                                      "default_cutoff_table": "martin2013"}))
    ran = runner.invoke(app, ["run", "sarcopenia", str(study), "--recipe", str(edited), "--sex", "F", "--height",
                              "1.6", "--weight", "60", "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    written = json.loads((tmp_path / "out" / "ct_l3" / "measurements.json").read_text())
    assert written["recipe"] == "my-sarcopenia"
    assert {finding["table"] for finding in written["findings"]} == {"martin2013"}
    relabelled = tmp_path / "relabelled.yaml"
    relabelled.write_text(yaml.safe_dump({**document, "labels": {1: "skeletal_muscle", 2: "subcutaneous_fat",
                                                                 3: "visceral_fat", 4: "bone"},
                                          "loss": {**document["loss"], "bce_pos_weight": [1, 1, 1, 1]}}))
    refused = runner.invoke(app, ["run", "sarcopenia", str(study), "--recipe", str(relabelled), "--out",
                                  str(tmp_path / "out2")])
    assert refused.exit_code == 2 and "the model was trained with labels" in refused.output
    other = runner.invoke(app, ["run", "nigra", str(study), "--recipe", str(edited), "--out", str(tmp_path / "o3")])
    assert other.exit_code == 2 and "based on sarcopenia, not on nigra" in other.output
    herniation_only = runner.invoke(app, ["run", "sarcopenia", str(study), "--age", "50", "--out", str(tmp_path / "o")])
    assert herniation_only.exit_code == 2 and "--age does not apply to recipe sarcopenia" in herniation_only.output
