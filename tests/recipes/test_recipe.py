import pytest
import yaml

from radiomark.errors import RecipeError
from radiomark.recipes import load_recipe


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

    document = yaml.safe_load(resources.files("radiomark.recipes").joinpath("sarcopenia.yaml").read_text())
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
    with pytest.raises(RecipeError, match="recipe nigra has no definition yet"):
        load_recipe("nigra")
