"""Recipe schema: every shipped recipe validates; bad files fail with the file and key named."""

from __future__ import annotations

import pytest
from tinysam_mobile.converters import TARGETS

from tinysam_mobile.recipes import RecipeError, list_recipes, load_recipe, parse_recipe

PRECISIONS = frozenset({"fp32", "int8"})


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_shipped_recipes_validate(target):
    names = list_recipes(target)
    assert names
    for name in names:
        recipe = load_recipe(target, name, TARGETS[target].load().PRECISIONS)
        assert recipe.name == name and recipe.description


def _base(**changes):
    data = {
        "name": "r",
        "target": "executorch",
        "description": "d",
        "encoder": {"precision": "fp32"},
        "decoder": {"precision": "fp32"},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(extra=1), "unknown key\\(s\\) \\['extra'\\]"),
        (dict(encoder={"precision": "int4"}), "precision 'int4'"),
        (dict(encoder={"precision": "fp32", "bits": 8}), "\\[encoder\\]: unknown key"),
        (dict(name="other"), "must equal the file name"),
        (dict(target="coreml"), "but the recipe is for 'executorch'"),
        (dict(parity={"min_mask_iou": "high"}), "min_mask_iou: expected float"),
        (dict(parity={"mask_iou": 0.9}), "unknown key"),
        (dict(decoder={"precision": "int8"}), "needs a \\[calibration\\]"),
        (dict(calibration={"images": 2.5}), "images: expected int"),
        (dict(parity={"photos": 0}), "photos: expected a positive int"),
        (dict(parity={"photos": True}), "photos: expected a positive int"),
        (dict(parity={"by_config": {"tiny-test": {"photos": 1}}}), "unknown key\\(s\\) \\['photos'\\]"),
    ],
)
def test_invalid_recipes(changes, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(_base(**changes), "executorch", PRECISIONS, where="r.toml", stem="r")


def test_thresholds_by_config_override():
    data = _base(parity={"min_mask_iou": 0.99, "by_config": {"tiny-test": {"min_mask_iou": 0.5}}})
    recipe = parse_recipe(data, "executorch", PRECISIONS, where="r.toml", stem="r")
    assert recipe.thresholds("tinysam").min_mask_iou == 0.99
    assert recipe.thresholds("tiny-test").min_mask_iou == 0.5


def test_parity_photos():
    assert parse_recipe(_base(), "executorch", PRECISIONS, where="r.toml", stem="r").parity_photos is None
    recipe = parse_recipe(_base(parity={"photos": 1}), "executorch", PRECISIONS, where="r.toml", stem="r")
    assert recipe.parity_photos == 1 and recipe.thresholds("tinysam") == recipe.parity


def test_unknown_recipe_lists_known():
    with pytest.raises(RecipeError, match="known: .*xnnpack_fp32"):
        load_recipe("executorch", "nope", PRECISIONS)
