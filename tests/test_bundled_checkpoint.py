"""The bundled ``tinysam-synthetic`` checkpoint path: fp16 export script, sha256 check, float32 loading."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
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
        checkpoints.BUNDLED_CHECKPOINTS, "tinysam-synthetic", BundledCheckpoint("absent.pth", None, "x")
    )
    with pytest.raises(CheckpointError, match="not shipped.*export_synthetic.py"):
        load_checkpoint("tinysam-synthetic")


def test_export_and_load_the_bundled_checkpoint(
    tmp_path: Path, full_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "tinysam_synthetic_fp16.pth"
    scenes = tmp_path / "scenes"
    assert _export_script().main([str(full_checkpoint), "--out", str(out), "--scenes", str(scenes)]) == 0
    sha = capsys.readouterr().out.split("sha256 ")[1].strip()
    assert out.stat().st_size <= 21_000_000
    assert all(
        v.dtype == torch.float16 for v in torch.load(out, weights_only=True).values() if v.is_floating_point()
    )

    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setitem(
        checkpoints.BUNDLED_CHECKPOINTS, "tinysam-synthetic", BundledCheckpoint(out.name, sha, "x")
    )
    loaded = load_checkpoint("tinysam-synthetic")
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
        load_checkpoint("tinysam-synthetic")


def test_the_shipped_scenes_are_the_training_pool_byte_for_byte():
    """What ships under assets/scenes is what the export writes from the pool (the JPEG files
    training decodes, and their whole objects)."""
    from tinysam_mobile.assets import SCENE_ANNOTATIONS, bundled_scenes
    from tinysam_mobile.rle import decode
    from tinysam_mobile.toolchain.training.pool import MIN_OBJECT_AREA, TIER1_SCENES, pool_scene

    shipped = bundled_scenes()
    assert [p.name for p in shipped] == [f"scene_{k}.jpg" for k in range(TIER1_SCENES)]
    coco = json.loads(SCENE_ANNOTATIONS.read_text())
    for k, path in enumerate(shipped):
        scene = pool_scene(k)
        assert path.read_bytes() == scene.jpeg
        anns = [a for a in coco["annotations"] if a["image_id"] == k + 1]
        masks = np.stack([decode(a["segmentation"]) for a in anns])
        assert np.array_equal(masks, scene.wholes(MIN_OBJECT_AREA))


def test_the_shipped_checkpoint_is_registered_and_loads():
    """The weights in the package are the ones registered (sha256 checked on load), fp16, small."""
    entry = checkpoints.BUNDLED_CHECKPOINTS["tinysam-synthetic"]
    assert entry.sha256 is not None, "the shipped weights have no registered sha256"
    assert entry.path.stat().st_size <= 21_000_000
    loaded = load_checkpoint("tinysam-synthetic")
    assert loaded.sha256 == entry.sha256 and not loaded.untrained
    assert loaded.model.config.name == "tinysam"
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
