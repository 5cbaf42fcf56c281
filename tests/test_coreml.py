"""Core ML target pieces: fp16 safety, the runtime's engines and errors, the convert command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinysam_mobile.bundle.manifest import read_manifest
from tinysam_mobile.cli.convert import main
from tinysam_mobile.mil import MilInterpreter, load_program
from tinysam_mobile.modeling.common import LayerNorm2d
from tinysam_mobile.runtimes.coreml_runtime import CoreMLRuntime, resolve_engine
from tinysam_mobile.toolchain.converters import coreml


def test_fp16_unsafe_ops_are_kept_in_float32(tmp_path):
    """SAM's LayerNorm2d squares its centered input: at activations ~1000 the square overflows
    fp16. The range analysis finds exactly the ops that produce or read overflowing values;
    keeping them in float32 gives the float32 result, all-fp16 gives inf / NaN."""
    module = LayerNorm2d(4).eval()
    example = (torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(0)) * 1000,)
    program = coreml.export_program(module, example)
    names = (("x",), ("y",))
    float32 = coreml.to_mlmodel(program, *names, example, fp16=False)
    feeds = [{"x": example[0].numpy()}]
    float32_program = load_program(coreml.save(float32, tmp_path / "a.mlpackage"))
    unsafe = coreml.fp16_unsafe_ops(float32_program, coreml.activation_ranges(float32_program, feeds))
    # (x - u)^2, its mean, + eps, and the sqrt that reads it
    assert {name.rstrip("_0123456789") for name in unsafe} == {"pow", "mean", "add", "sqrt"}, unsafe

    def run(mlmodel, name: str) -> np.ndarray:
        return MilInterpreter(load_program(coreml.save(mlmodel, tmp_path / name))).run(feeds[0])["y"]

    expected = module(*example).detach().numpy()
    kept = run(coreml.to_mlmodel(program, *names, example, fp16=True, keep_fp32=unsafe), "kept.mlpackage")
    np.testing.assert_allclose(kept, expected, atol=2e-2)
    naive = run(coreml.to_mlmodel(program, *names, example, fp16=True), "naive.mlpackage")
    assert not np.isfinite(naive).all() or np.abs(naive - expected).max() > 0.5


def test_engine_choice_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr("platform.system", lambda: "Linux")
    assert resolve_engine("auto") == "mil"
    with pytest.raises(RuntimeError, match="macOS only"):
        resolve_engine("coreml")
    with pytest.raises(ValueError, match="unknown Core ML engine"):
        resolve_engine("ane")
    monkeypatch.setattr("platform.system", lambda: "Darwin")
    assert resolve_engine("auto") == "coreml"
    with pytest.raises(ValueError, match="unknown compute units"):
        CoreMLRuntime(tmp_path, tmp_path, 8, compute_units="NPU")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CoreMLRuntime(tmp_path / "encoder.mlpackage", tmp_path / "decoder.mlpackage", 8, engine="mil")


@pytest.mark.slow
def test_convert_command_writes_a_coreml_bundle(tmp_path, capsys):
    """``--target coreml`` alone picks the fp16 recipe; the bundle holds two packages whose
    directory hashes the manifest checks."""
    out = tmp_path / "bundle"
    args = ["--target", "coreml", "--out", str(out), "--no-parity"]
    assert main([*args, "--checkpoint", "untrained", "--model-config", "tiny-test"]) == 0
    manifest = read_manifest(out)
    assert manifest["target"] == "coreml" and manifest["recipe"]["name"] == "fp16"
    assert {a["file"] for a in manifest["artifacts"].values()} == {"encoder.mlpackage", "decoder.mlpackage"}
    assert "coremltools" in manifest["tools"]
    assert "decoder: fp16 compute; kept in float32: none" in capsys.readouterr().out
    weights = next((out / "decoder.mlpackage").rglob("weight.bin"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # any change to a file inside a package breaks the package's digest
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its sha256"):
        read_manifest(out)
