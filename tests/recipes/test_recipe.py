import pytest
import yaml

from radiomark.errors import RecipeError
from radiomark.recipes import load_recipe, measure_parameters


def test_bundled_sarcopenia_recipe_carries_the_published_cutoffs():
    recipe = load_recipe("sarcopenia")
    assert recipe.labels == {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "visceral_fat"}
    assert recipe.augmentation.random_window.level == (-250, 250)
    assert recipe.augmentation.random_window.width == (400, 1200)

    def cutoffs(table, finding):
        return {(r.sex, r.bmi_below, r.bmi_at_least): r.below
                for r in recipe.cutoff_tables[table].rules if r.finding == finding}

    assert cutoffs("prado2008", "sarcopenia") == {("M", None, None): 52.4, ("F", None, None): 38.5}
    assert cutoffs("martin2013", "sarcopenia") == {("M", 25, None): 43, ("M", None, 25): 53, ("F", None, None): 41}
    assert cutoffs("martin2013", "myosteatosis") == {(None, 25, None): 41, (None, None, 25): 33}
    assert cutoffs("derstine2018", "sarcopenia") == {("M", None, None): 45.4, ("F", None, None): 34.4}
    assert cutoffs("kim2020", "sarcopenia") == {("M", None, None): 39.8, ("F", None, None): 28.4}
    assert cutoffs("kim2020", "low_sma_per_bmi") == {("M", None, None): 4.97, ("F", None, None): 3.46}
    assert all(table.citation and table.verified for table in recipe.cutoff_tables.values())


def _edited(tmp_path, **changes):
    from importlib import resources

    document = yaml.safe_load(resources.files("radiomark.recipes.sarcopenia").joinpath("recipe.yaml").read_text())
    document.update(changes)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_edited_recipes_are_validated(tmp_path):
    assert load_recipe(_edited(tmp_path, title="my variant")).title == "my variant"
    with pytest.raises(RecipeError, match="edited.yaml: invalid recipe: .*bce_pos_weight needs 3 values"):
        load_recipe(_edited(tmp_path, loss={"bce_pos_weight": [1.0]}))
    with pytest.raises(RecipeError, match="Extra inputs are not permitted"):
        load_recipe(_edited(tmp_path, colour="blue"))
    with pytest.raises(RecipeError, match="default_cutoff_table 'nope' is not one of"):
        load_recipe(_edited(tmp_path, default_cutoff_table="nope"))
    with pytest.raises(RecipeError, match="unknown recipe 'sarcopaenia'"):
        load_recipe("sarcopaenia")
    with pytest.raises(RecipeError, match="disc-herniation is an image \\+ clinical-data classifier"):
        load_recipe("disc-herniation")


def test_the_nigra_recipe_is_3d_multi_echo_and_checked(tmp_path):
    recipe = load_recipe("nigra")
    assert recipe.inputs.echoes == (1, 2, 3) and recipe.preprocessing.spatial_dims == 3
    assert recipe.network.name == "vnet" and recipe.loss.lambda_bce == 0.0  # the study: V-Net, Dice loss
    measures = measure_parameters(recipe)
    assert measures.roi == ("substantia_nigra_right", "substantia_nigra_left")
    assert measures.qsm_threshold_ppm == 0.015

    def edited(**changes):
        from importlib import resources

        document = yaml.safe_load(resources.files("radiomark.recipes.nigra").joinpath("recipe.yaml").read_text())
        for key, value in changes.items():
            section, _, field = key.partition("__")
            if field:
                document[section][field] = value
            else:
                document[section] = value
        path = tmp_path / "nigra-edited.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    with pytest.raises(RecipeError, match="a 3D recipe takes target_spacing_mm and patch_size, not spatial_size"):
        load_recipe(edited(preprocessing__spatial_size=[64, 64]))
    with pytest.raises(RecipeError, match="inputs.echoes must be distinct ranks"):
        load_recipe(edited(inputs={"echoes": [1, 1]}))
    with pytest.raises(RecipeError, match="measures name unknown labels \\['red_nucleus'\\]"):
        load_recipe(edited(measures__reference=["red_nucleus"]))
    with pytest.raises(RecipeError, match="invalid measures section: .*qsm_threshold_ppm"):
        load_recipe(edited(measures__qsm_threshold_ppm="high"))
    with pytest.raises(RecipeError, match="flexible_unet is 2D here"):
        load_recipe(edited(network={"name": "flexible_unet"}))


def test_recipes_of_earlier_runs_still_load(tmp_path):
    from importlib import resources

    document = yaml.safe_load(resources.files("radiomark.recipes.sarcopenia").joinpath("recipe.yaml").read_text())
    document["agreement_measure"] = document.pop("agreement_measures")[0]  # radiomark 0.1.0 run folders
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(document))
    assert load_recipe(path).agreement_measures == ("skeletal_muscle_area",)
