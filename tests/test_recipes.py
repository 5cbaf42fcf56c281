"""Recipe schema v2: shipped recipes validate; bad files fail naming the file and the key; aliases
select recipes; a recipe's backend options change the artifact without a code change."""

from __future__ import annotations

import pytest

from tinysam_mobile.targets import TARGETS
from tinysam_mobile.toolchain.converters import get_backend
from tinysam_mobile.toolchain.recipes import RecipeError, Thresholds, list_recipes, parse_recipe

EXECUTORCH = get_backend("executorch")
EXECUTORCH_RULES = (EXECUTORCH.schemes, EXECUTORCH.options_table, EXECUTORCH.check_options)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_shipped_recipes_validate(target):
    names = list_recipes(target)
    assert TARGETS[target].default_recipe in names
    for name in names:
        recipe = get_backend(target).load_recipe(name)
        assert recipe.name == name and recipe.description
        assert recipe.parity.judge == ("always" if name == "fp32" else "trained")


@pytest.mark.parametrize(
    "target,alias,name",
    [
        ("executorch", "xnnpack_fp32", "fp32"),
        ("executorch", "xnnpack_int8", "w8a8"),
        ("tflite", "int8", "w8a8"),
        ("tflite", "dynamic_int8", "w8_dynamic"),
        ("tflite", "fp16", "fp16_weights"),
        ("coreml", "palettize4", "palette4_fp16"),
        ("coreml", "w8", "w8_fp16"),
    ],
)
def test_earlier_names_are_aliases(target, alias, name):
    assert get_backend(target).load_recipe(alias).name == name


def _base(**changes):
    data = {
        "schema": 2,
        "name": "r",
        "target": "executorch",
        "description": "d",
        "encoder": {"scheme": "fp32"},
        "decoder": {"scheme": "fp32"},
    }
    data.update(changes)
    return data


W8A8 = {"scheme": "w8a8", "xnnpack": {"float_modules": ["GemmLayerNorm"]}}


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(extra=1), "unknown key\\(s\\) \\['extra'\\]"),
        (dict(schema=1), "schema 1, this tool reads schema 2"),
        (dict(encoder={"scheme": "int4"}), "scheme 'int4'"),
        (dict(encoder={"precision": "fp32"}), "\\[encoder\\]: unknown key\\(s\\) \\['precision'\\]"),
        (dict(encoder={"scheme": "fp32", "xnnpack": {"per_channel": True}}), "'fp32' takes no options"),
        (dict(decoder={"scheme": "w8a8", "xnnpack": {"float_modules": ["Nope"]}}), "float_modules: expected"),
        (dict(decoder={"scheme": "w8a8", "coremltools": {}}), "unknown key\\(s\\) \\['coremltools'\\]"),
        (dict(name="other"), "must equal the file name"),
        (dict(target="coreml"), "but the recipe is for 'executorch'"),
        (dict(parity={"min_mask_iou": "high"}), "min_mask_iou: expected float"),
        (dict(parity={"judge": "sometimes"}), "judge must be one of"),
        (dict(parity={"photos": 0}), "photos: expected a positive int"),
        (dict(parity={"mask_iou": 0.9}), "unknown key"),
        (dict(decoder=W8A8), "needs a \\[calibration\\]"),
        (dict(calibration={"images": 2.5}), "images: expected int"),
        (dict(aliases="int8"), "aliases: expected a list of strings"),
    ],
)
def test_invalid_recipes(changes, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(_base(**changes), "executorch", EXECUTORCH_RULES, where="r.toml", stem="r")


def test_parity_bounds_can_be_disabled_and_default_to_the_fp32_contract():
    recipe = parse_recipe(
        _base(parity={"max_logit_abs": False, "photos": 1}),
        "executorch",
        EXECUTORCH_RULES,
        where="r.toml",
        stem="r",
    )
    assert recipe.parity.max_logit_abs is None and recipe.parity_photos == 1
    assert recipe.parity.min_mask_iou == Thresholds().min_mask_iou


def test_runnable_on_says_where_the_real_runtime_is():
    recipe = parse_recipe(
        _base(runnable_on=["darwin"]), "executorch", EXECUTORCH_RULES, where="r.toml", stem="r"
    )
    assert recipe.runnable_here("darwin") and not recipe.runnable_here("linux")


def test_coreml_options_are_parsed_by_coremltools():
    backend = get_backend("coreml")
    coreml = (backend.schemes, backend.options_table, backend.check_options)
    bad = {"scheme": "w8_fp16", "coremltools": {"weights": {"global_config": {"nbits": 4, "mode": "nope"}}}}
    with pytest.raises(RecipeError, match="weights: not a coremltools OptimizationConfig"):
        parse_recipe(_base(target="coreml", encoder=bad), "coreml", coreml, where="r.toml", stem="r")


def test_unknown_recipe_lists_known():
    with pytest.raises(RecipeError, match="known: fp32, w8a8"):
        EXECUTORCH.load_recipe("nope")
