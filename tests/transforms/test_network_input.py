"""Training and inference build the 2D network input with one function."""

from __future__ import annotations

import numpy as np
import torch

from radiomark.io.study import StudyImages
from radiomark.phantoms import generate_case
from radiomark.recipes import load_recipe
from radiomark.training.data import Case, to_network_slice
from radiomark.transforms.intensity import to_unit_interval
from radiomark.transforms.network_input import AIR_HU, network_slice, network_slice_target


def _case(recipe: str, seed: int) -> Case:
    phantom = generate_case(recipe, seed)
    return Case(phantom.case_id, "p", StudyImages((phantom.image,)), phantom.labels, {})


def test_a_percentile_recipe_trains_on_exactly_what_it_predicts_on():
    recipe = load_recipe("neonatal-rds")
    case = _case("neonatal-rds", 4)
    trained = to_network_slice(case, recipe)
    predicted = network_slice(case.image, recipe.preprocessing)[0]
    assert torch.equal(trained["image"], torch.from_numpy(predicted))
    assert trained["image"].shape == (1, *recipe.preprocessing.network_size())
    assert trained["label"].shape == (len(recipe.labels), *recipe.preprocessing.network_size())


def test_a_windowed_recipe_trains_on_hu_padded_with_air_on_the_same_grid():
    recipe = load_recipe("sarcopenia")
    case = _case("sarcopenia", 2)
    hu = network_slice(case.image, recipe.preprocessing, keep_hu=True)[0]
    unit = network_slice(case.image, recipe.preprocessing)[0]
    assert float(hu.min()) == AIR_HU and float(unit.min()) == 0.0
    assert torch.equal(to_network_slice(case, recipe)["image"], torch.from_numpy(hu))
    target = network_slice_target(case.labels, recipe.preprocessing, sorted(recipe.labels))
    assert float(target.sum()) > 0 and set(np.unique(target).tolist()) == {0.0, 1.0}
    windowed = to_unit_interval(hu, recipe.preprocessing)
    assert np.corrcoef(windowed.ravel(), unit.ravel())[0, 1] > 0.99
