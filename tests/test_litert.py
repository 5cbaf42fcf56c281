"""LiteRT pieces outside the parity suite: loading errors, op inventory, the convert command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tinysam_mobile.cli.convert import main
from tinysam_mobile.runtimes.litert_runtime import LiteRTRuntime
from tinysam_mobile.toolchain.converters import tflite


class Doubler(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


@pytest.fixture(scope="module")
def toy_program(tmp_path_factory) -> object:
    path = tmp_path_factory.mktemp("toy") / "toy.tflite"
    return tflite.export_float(tflite.NamedIO(Doubler(), ("x",), ("y",)), (torch.ones(1, 4),), path)


def test_named_io_and_inventory(toy_program):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(toy_program)).get_signature_runner()
    out = runner(x=np.arange(4, dtype=np.float32)[None])
    np.testing.assert_array_equal(out["y"], [[0, 2, 4, 6]])
    assert tflite.op_inventory(toy_program) == {"MUL:FLOAT32": 1}
    tflite.check_builtin_only(toy_program)


def test_custom_ops_are_refused(toy_program, monkeypatch):
    monkeypatch.setattr(tflite, "op_inventory", lambda path: {"CUSTOM:FlexErf": 1, "MUL:FLOAT32": 1})
    with pytest.raises(RuntimeError, match="ops stock LiteRT lacks: CUSTOM:FlexErf"):
        tflite.check_builtin_only(toy_program)


def test_runtime_load_errors(tmp_path, toy_program):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LiteRTRuntime(tmp_path / "missing.tflite", toy_program, 8)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 8)
    with pytest.raises(RuntimeError, match="LiteRT could not load"):
        LiteRTRuntime(junk, toy_program, 8)
    with pytest.raises(RuntimeError, match=r"expected \('image',\)"):
        LiteRTRuntime(toy_program, toy_program, 8)


@pytest.mark.slow
def test_convert_command_writes_a_tflite_bundle(tmp_path, capfd):
    out = tmp_path / "bundle"
    args = ["--target", "tflite", "--recipe", "fp16", "--out", str(out), "--no-parity"]
    assert main([*args, "--checkpoint", "untrained", "--model-config", "tiny-test"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"] == "tflite" and manifest["recipe"]["name"] == "fp16_weights"  # via its alias
    assert {a["file"] for a in manifest["artifacts"].values()} == {"encoder.tflite", "decoder.tflite"}
    assert "litert-torch" in manifest["tools"]
    assert sorted(p.name for p in out.iterdir()) == ["decoder.tflite", "encoder.tflite", "manifest.json"]
    captured = capfd.readouterr()  # at fd level: LiteRT-Torch, torchao and absl write there
    assert "encoder: convert (fp16_weights)" in captured.out
    assert "decoder: quantize (fp16_weights)" in captured.out
    noise = ("Failed to load", "[START]", "it/s]", "Warning", "Model name")
    assert not [text for text in noise if text in captured.out + captured.err]


@pytest.mark.slow
def test_a_recipe_file_chooses_the_int8_ops_without_a_code_change(tmp_path, tiny_model):
    """The shipped w8a8 recipe keeps the decoder's attention matmuls float; a copy of the file
    that lists BATCH_MATMUL makes them int8."""
    from tinysam_mobile.toolchain.converters import get_backend
    from tinysam_mobile.toolchain.converters.tflite import op_inventory
    from tinysam_mobile.toolchain.recipes import recipe_dir

    backend = get_backend("tflite")
    text = (recipe_dir("tflite") / "w8a8.toml").read_text()
    variant = tmp_path / "w8a8.toml"
    variant.write_text(
        text.replace(
            'static_int8_ops = ["FULLY_CONNECTED"]', 'static_int8_ops = ["FULLY_CONNECTED", "BATCH_MATMUL"]'
        )
    )
    int8_ops = {}
    for name, path in (("shipped", "w8a8"), ("variant", str(variant))):
        recipe = backend.load_recipe(path)
        (job,) = [j for j in backend.program_jobs(tiny_model, recipe, max_points=8) if j.name == "decoder"]
        out = backend.convert_program(job, tmp_path / f"{name}.tflite", lambda _m: None)
        int8_ops[name] = {op.split(":")[0] for op in op_inventory(out) if op.endswith(":INT8")}
    assert "BATCH_MATMUL" not in int8_ops["shipped"] and "FULLY_CONNECTED" in int8_ops["shipped"]
    assert "BATCH_MATMUL" in int8_ops["variant"]
