"""The target registry and the Backend type: every target is one Backend, and a new target is one
converter module, one runtime module, its recipe files and one registry line (the toy target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile import targets
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.runtimes import ProgramRuntime, runtime_class
from tinysam_mobile.targets import TARGETS, Target, get_target
from tinysam_mobile.toolchain import recipes
from tinysam_mobile.toolchain.build import build_bundle
from tinysam_mobile.toolchain.converters import Backend, get_backend
from tinysam_mobile.toolchain.recipes import SCHEMES

TOY = Path(__file__).parent / "toy_target"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_is_one_backend_and_one_runtime(name):
    backend = get_backend(name)
    assert isinstance(backend, Backend) and backend.name == name
    assert {"fp32"} <= backend.schemes <= SCHEMES
    assert backend.load_recipe(get_target(name).default_recipe).target == name
    assert issubclass(runtime_class(name), ProgramRuntime)


def test_a_backend_with_an_unknown_scheme_name_is_refused():
    class Misnamed(Backend):
        schemes = frozenset({"fp32", "int8"})
        options_table = "x"

        def convert_program(self, job, path, progress=print):
            return path

        def tool_versions(self):
            return {}

    with pytest.raises(TypeError, match=r"unknown scheme name\(s\) \['int8'\]"):
        Misnamed("executorch")


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown target .onnx.; known: coreai, coreml, executorch, tflite"):
        get_backend("onnx")


@pytest.fixture
def toy_target(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register the toy target: the one registry line, and where its recipe files are."""
    line = Target(
        "toy",
        ".pt2",
        "toy",
        "fp32",
        "tests.toy_target.runtime:ToyRuntime",
        "tests.toy_target.converter:BACKEND",
    )
    monkeypatch.setitem(targets.TARGETS, "toy", line)
    real_dir = recipes.recipe_dir
    monkeypatch.setattr(recipes, "recipe_dir", lambda t: TOY / "recipes" if t == "toy" else real_dir(t))
    return "toy"


def test_a_new_target_builds_proves_and_opens_a_bundle(toy_target, tiny_model, tmp_path, photo):
    result = build_bundle(tiny_model, toy_target, out_dir=tmp_path / "toy", progress=lambda _m: None)
    assert result.report is not None and result.report.judged and not result.report.failures
    assert result.manifest["target"] == "toy" and (tmp_path / "toy" / "decoder.pt2").is_file()
    bundle, reference = Predictor.from_bundle(tmp_path / "toy"), Predictor(tiny_model)
    answers = []
    for predictor in (bundle, reference):
        predictor.set_image(photo)
        answers.append(predictor.predict(point_coords=np.array([[200, 150]]), point_labels=np.array([1])))
    assert np.array_equal(answers[0][0], answers[1][0])
    np.testing.assert_allclose(answers[0][1], answers[1][1], atol=1e-5)
