"""The converter registry and skeleton: every target satisfies the protocol of converters.base."""

from __future__ import annotations

import types

import pytest

from tinysam_mobile.converters import TARGETS, get_target
from tinysam_mobile.converters.base import REQUIRED, check_backend


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_implements_the_skeleton(name):
    target = get_target(name)
    module = target.load()
    check_backend(module)
    assert target.default_recipe and target.suffix.startswith(".")
    assert {"fp32"} <= module.SCHEMES
    assert all(callable(getattr(module, f)) for f in REQUIRED if f.islower())


def test_a_module_missing_a_piece_is_named():
    module = types.ModuleType("fake_target")
    module.SCHEMES = frozenset({"fp32"})
    with pytest.raises(TypeError, match="fake_target lacks OPTIONS_TABLE, check_options"):
        check_backend(module)


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown target .onnx.; known: coreai, coreml, executorch, tflite"):
        get_target("onnx")
