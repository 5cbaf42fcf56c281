"""The bundled ``synthetic`` checkpoint path: fp16 export script, sha256 check, float32 loading."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tinysam_mobile import checkpoints
from tinysam_mobile.checkpoints import BundledCheckpoint, CheckpointError, load_checkpoint

SCRIPT = Path(__file__).parents[1] / "scripts" / "export_synthetic.py"


def _export_script():
    spec = importlib.util.spec_from_file_location("export_synthetic", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unshipped_bundled_checkpoint_says_how_to_make_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(
        checkpoints.BUNDLED_CHECKPOINTS, "synthetic", BundledCheckpoint("absent.pth", None, "x")
    )
    with pytest.raises(CheckpointError, match="not shipped.*export_synthetic.py"):
        load_checkpoint("synthetic")


def test_export_and_load_the_bundled_checkpoint(
    tmp_path: Path, full_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "tinysam_synthetic_fp16.pth"
    assert _export_script().main([str(full_checkpoint), "--out", str(out)]) == 0
    sha = capsys.readouterr().out.split("sha256 ")[1].strip()
    assert out.stat().st_size <= 21_000_000
    assert all(
        v.dtype == torch.float16 for v in torch.load(out, weights_only=True).values() if v.is_floating_point()
    )

    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setitem(checkpoints.BUNDLED_CHECKPOINTS, "synthetic", BundledCheckpoint(out.name, sha, "x"))
    loaded = load_checkpoint("synthetic")
    assert loaded.sha256 == sha and not loaded.untrained
    original = load_checkpoint(str(full_checkpoint)).model.state_dict()
    for key, value in loaded.model.state_dict().items():
        assert value.dtype == original[key].dtype, key
        if value.is_floating_point():
            assert torch.equal(value, original[key].half().float()), key

    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint("synthetic")
