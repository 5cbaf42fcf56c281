"""Quality against ground truth: COCO round trip, SAM's click protocol, the evaluate command."""

from __future__ import annotations

import json

import numpy as np

from tinysam_mobile.cli.evaluate import main
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.testing.oracle import synthetic_scene
from tinysam_mobile.toolchain.evaluation import correction_click, evaluate, load_coco, report, write_coco


def _scene_set(tmp_path, count: int = 2):
    scenes = []
    for seed in range(count):
        scene = synthetic_scene(120, 160, seed)
        masks = np.stack([scene.mask(k) for k in scene.object_ids])
        scenes.append((f"s{seed}.png", scene.image(), masks))
    return write_coco(iter(scenes), tmp_path / "set"), scenes


def test_coco_files_read_back_with_pycocotools(tmp_path):
    annotations, scenes = _scene_set(tmp_path)
    loaded = list(load_coco(annotations, tmp_path / "set" / "images"))
    assert [g.name for g in loaded] == [s[0] for s in scenes]
    for truth, (_, image, masks) in zip(loaded, scenes, strict=True):
        np.testing.assert_array_equal(truth.image, image)
        np.testing.assert_array_equal(truth.masks, masks)
    assert json.loads(annotations.read_text())["annotations"][0]["iscrowd"] == 0


def test_correction_click_goes_to_the_larger_error():
    truth = np.zeros((20, 20), bool)
    truth[2:18, 2:18] = True
    missing = truth.copy()
    missing[2:18, 10:18] = False  # right half missed
    (x, y), label = correction_click(missing, truth)
    assert label == 1 and 10 <= x < 18
    spurious = truth.copy()
    spurious[0:20, 18:20] = True
    spurious[0:2, :] = True
    (x, y), label = correction_click(spurious, truth)
    assert label == 0 and not truth[int(y), int(x)]
    assert correction_click(truth, truth) is None


def test_the_same_model_twice_agrees_and_loses_nothing(tmp_path, tiny_model):
    annotations, _ = _scene_set(tmp_path, 1)
    data = load_coco(annotations, tmp_path / "set" / "images")
    results = evaluate({"a": Predictor(tiny_model), "b": Predictor(tiny_model)}, data, clicks=1)
    summary = report(results)
    first, second = summary["runtimes"]
    assert summary["kinds"] == ["point", "point+1", "box"]
    assert first["objects"] == second["objects"] > 0
    assert second["miou_change"] == {"point": 0.0, "point+1": 0.0, "box": 0.0}
    assert second["agreement_with_reference"] == 1.0
    assert 0.0 <= first["miou"]["box"] <= 1.0


def test_the_command_writes_a_report(tmp_path, capsys):
    annotations, _ = _scene_set(tmp_path, 1)
    out = tmp_path / "report"
    args = ["run", "--annotations", str(annotations), "--images", str(tmp_path / "set" / "images")]
    args += ["--checkpoint", "untrained", "--model-config", "tiny-test", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["runtimes"][0]["runtime"] == "float (untrained)"
    assert "| float (untrained) |" in out.with_suffix(".md").read_text()


def test_make_set_writes_held_out_generated_scenes(tmp_path):
    assert main(["make-set", str(tmp_path / "gen"), "--objects", "3"]) == 0
    loaded = list(load_coco(tmp_path / "gen" / "annotations.json", tmp_path / "gen" / "images"))
    assert sum(len(g.masks) for g in loaded) == 3
    assert all(max(g.image.shape[:2]) == 1024 for g in loaded)
