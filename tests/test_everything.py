"""Segment everything, tested against the oracle runtime on synthetic scenes (known objects)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ASSETS
from tinysam_mobile import mask_ops, rle
from tinysam_mobile.automatic_mask_generator import AutoMaskGenerator, EverythingConfig, point_grid
from tinysam_mobile.cli.everything import main
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.runtimes import TorchRuntime
from tinysam_mobile.testing.oracle import OracleRuntime, Scene, edge_scene, synthetic_scene

SCENE_SEEDS = range(6)
FOUND_IOU = 0.9


def mask_ious(scene: Scene, masks: list[np.ndarray]) -> np.ndarray:
    """IoU of every (object, mask) pair, ``objects x masks``."""
    ious = np.zeros((len(scene.object_ids), len(masks)))
    for i, k in enumerate(scene.object_ids):
        truth = scene.mask(k)
        for j, mask in enumerate(masks):
            ious[i, j] = (truth & mask).sum() / (truth | mask).sum()
    return ious


def run(scene: Scene, strategy: str, config: EverythingConfig | None = None):
    runtime = OracleRuntime(scene)
    result = AutoMaskGenerator(runtime, config, strategy).generate(scene.image())
    assert runtime.prompts_decoded == result.points_decoded
    return result, [r["segmentation"] for r in result]


@pytest.fixture(scope="module")
def scene_results() -> list[tuple[Scene, dict]]:
    out = []
    for seed in SCENE_SEEDS:
        scene = synthetic_scene(360, 480, seed)
        out.append((scene, {strategy: run(scene, strategy) for strategy in ("grid", "hierarchical")}))
    return out


def test_point_grid_is_sams():
    grid = point_grid(4)
    assert grid.shape == (16, 2)
    np.testing.assert_allclose(grid[:4], [[0.125, 0.125], [0.375, 0.125], [0.625, 0.125], [0.875, 0.125]])
    np.testing.assert_allclose(grid[::4, 1], [0.125, 0.375, 0.625, 0.875])


@pytest.mark.parametrize("strategy", ["grid", "hierarchical"])
def test_every_known_object_is_found_once(scene_results, strategy):
    for scene, results in scene_results:
        result, masks = results[strategy]
        ious = mask_ious(scene, masks)
        assert (ious.max(1) >= FOUND_IOU).all(), f"missed objects: {ious.max(1)}"
        assert ((ious >= 0.5).sum(1) == 1).all(), "an object survived NMS twice"
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in result)], float)
        overlap = mask_ops.box_iou(boxes, boxes) - np.eye(len(boxes))
        assert overlap.max() <= EverythingConfig().box_nms_thresh


def test_hierarchical_halves_decoder_work(scene_results):
    grid_points = sum(results["grid"][0].points_decoded for _, results in scene_results)
    hier_points = sum(results["hierarchical"][0].points_decoded for _, results in scene_results)
    assert grid_points == 1024 * len(scene_results)
    assert hier_points <= 0.5 * grid_points, f"hierarchical decoded {hier_points} vs grid {grid_points}"
    found_by_grid = found_by_both = 0
    for scene, results in scene_results:
        grid_found = mask_ious(scene, results["grid"][1]).max(1) >= FOUND_IOU
        hier_found = mask_ious(scene, results["hierarchical"][1]).max(1) >= FOUND_IOU
        found_by_grid += grid_found.sum()
        found_by_both += (grid_found & hier_found).sum()
    assert found_by_both >= 0.98 * found_by_grid


def test_records_are_sam_style(scene_results):
    scene, results = scene_results[0]
    result, _ = results["hierarchical"]
    assert {r["stage"] for r in result} <= {1, 2}
    for record in result:
        mask = record["segmentation"]
        assert mask.shape == scene.size and mask.dtype == bool
        assert record["area"] == mask.sum()
        x, y, w, h = record["bbox"]
        ys, xs = np.nonzero(mask)
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert record["predicted_iou"] > 0.88 and record["stability_score"] >= 0.95
        px, py = record["point_coords"][0]
        assert mask[int(py), int(px)]


FAST_RESIDUES = (0, 1, 15, 16, 31)  # the rest run in the slow tier


@pytest.mark.parametrize(
    "residue", [r if r in FAST_RESIDUES else pytest.param(r, marks=pytest.mark.slow) for r in range(32)]
)
def test_edge_objects_are_found_for_every_width_mod_32(residue):
    """The official generator's border coverage depended on W mod 32; SAM's grid does not."""
    scene = edge_scene(120, 320 + residue)
    result, masks = run(scene, "hierarchical")
    assert (mask_ious(scene, masks).max(1) >= FOUND_IOU).all()
    assert {r["stage"] for r in result} == {2}  # too thin for the sparse round


def test_image_covered_in_round_one_returns_normally():
    scene = Scene(np.ones((90, 120), np.int32))
    result, masks = run(scene, "hierarchical")
    assert result.points_decoded == 64 and result.points_skipped == 1024
    assert len(masks) == 1 and masks[0].all()


@pytest.mark.parametrize("strategy", ["grid", "hierarchical"])
def test_tiny_image(strategy):
    labels = np.zeros((7, 10), np.int32)
    labels[:, 5:] = 1
    _, masks = run(Scene(labels), strategy)
    assert len(masks) == 1 and masks[0].shape == (7, 10)
    assert mask_ious(Scene(labels), masks)[0, 0] >= FOUND_IOU


def test_densities_are_parameters():
    """The paper's 10/32 setting, impossible with the official hard-wired points_per_side // 4."""
    scene = synthetic_scene(240, 320, 1)
    result, masks = run(scene, "hierarchical", EverythingConfig(sparse_points_per_side=10))
    assert result.points_decoded == 100 + 1024 - result.points_skipped
    assert (mask_ious(scene, masks).max(1) >= FOUND_IOU).all()


def test_no_state_between_calls():
    """The official generator overwrote its point grids, so a second call started from round 2's."""
    scene = synthetic_scene(240, 320, 2)
    generator = AutoMaskGenerator(OracleRuntime(scene))
    first, second = generator.generate(scene.image()), generator.generate(scene.image())
    assert [r["bbox"] for r in first] == [r["bbox"] for r in second]
    assert first.points_decoded == second.points_decoded


def test_coco_rle_output_and_small_region_removal():
    labels = np.zeros((120, 160), np.int32)
    labels[20:100, 30:130] = 1
    labels[58:62, 78:82] = 0  # a small hole the decoder reproduces
    scene = Scene(labels)
    holed = run(scene, "grid")[1]
    assert len(holed) == 1 and not holed[0][60, 80]
    config = EverythingConfig(min_mask_region_area=50)
    result = AutoMaskGenerator(OracleRuntime(scene), config, "grid", "coco_rle").generate(scene.image())
    assert len(result) == 1
    record = result[0]
    assert set(record["segmentation"]) == {"size", "counts"}
    mask = rle.decode(record["segmentation"])
    assert mask[60, 80] and record["area"] == mask.sum() == rle.area(record["segmentation"])


def test_bad_parameters_are_refused(tiny_model):
    with pytest.raises(ValueError, match="points_per_side must be an integer from 1 to 1024"):
        EverythingConfig(points_per_side=0)
    with pytest.raises(ValueError, match="box_nms_thresh"):
        EverythingConfig(box_nms_thresh=1.5)
    with pytest.raises(ValueError, match="strategy"):
        AutoMaskGenerator(tiny_model, strategy="dense")
    with pytest.raises(ValueError, match="output_mode"):
        AutoMaskGenerator(tiny_model, output_mode="polygons")


def test_runs_on_the_float_model_in_batches(tiny_model, photo):
    """Any runtime behind Predictor: the tiny float model, filters off so masks come out."""
    config = EverythingConfig(
        points_per_side=4, sparse_points_per_side=2, points_per_batch=5, pred_iou_thresh=-1e9,
        stability_score_thresh=0.0, box_nms_thresh=1.0,
    )  # fmt: skip
    predictor = Predictor(TorchRuntime(tiny_model))
    grid = AutoMaskGenerator(predictor, config, "grid").generate(photo)
    assert grid.decode_calls == 4 and grid.points_decoded == 16 and grid
    assert all(r["segmentation"].shape == photo.shape[:2] for r in grid)
    hier = AutoMaskGenerator(predictor, config, "hierarchical").generate(photo)
    assert hier.decode_calls == 1 + -(-(16 - hier.points_skipped) // 5)
    direct = AutoMaskGenerator(tiny_model, config, "grid").generate(photo)
    assert [r["bbox"] for r in direct] == [r["bbox"] for r in grid]


def test_cli_writes_overlay_and_json(tmp_path, capsys):
    out, masks_json = tmp_path / "overlay.png", tmp_path / "masks.json"
    args = [
        str(ASSETS / "picture2.jpg"),
        *("--checkpoint", "untrained", "--model-config", "tiny-test", "--strategy", "grid"),
        *("--points-per-side", "3", "--pred-iou-thresh=-1e9", "--stability-score-thresh", "0"),
        *("--out", str(out), "--json", str(masks_json)),
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "9 prompts decoded" in captured.out and "9/9" in captured.err
    payload = json.loads(masks_json.read_text())
    image = Image.open(ASSETS / "picture2.jpg")
    assert payload["size"] == [image.height, image.width] and payload["annotations"]
    assert rle.decode(payload["annotations"][0]["segmentation"]).shape == (image.height, image.width)
    assert Image.open(out).size == image.size


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--points-per-side", "0"], "points_per_side must be an integer from 1 to 1024"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--bundle", "nowhere"], "cannot open bundle nowhere"),
    ],
)
def test_cli_errors(tmp_path, extra, message):
    args = [str(ASSETS / "picture2.jpg"), "--out", str(tmp_path / "o.png"), "--checkpoint", "untrained"]
    with pytest.raises(SystemExit, match=message):
        main([*args, "--model-config", "tiny-test", *extra])


def test_cli_unreadable_image(tmp_path):
    bad = tmp_path / "not.png"
    bad.write_text("text")
    with pytest.raises(SystemExit, match="cannot read image"):
        main([str(bad), "--out", str(tmp_path / "o.png"), "--checkpoint", "untrained"])


@pytest.mark.slow
def test_same_masks_on_a_converted_bundle(tmp_path, tiny_model, photo):
    """Everything over a LiteRT fp32 bundle equals everything over the float model it came from."""
    from tinysam_mobile.bundle import open_bundle
    from tinysam_mobile.toolchain.build import build_bundle

    out = tmp_path / "bundle"
    build_bundle(tiny_model, "tflite", "fp32", out, max_points=8, parity=False, progress=lambda _: None)
    config = EverythingConfig(
        points_per_side=4, sparse_points_per_side=2, pred_iou_thresh=-1e9, stability_score_thresh=0.0,
        box_nms_thresh=1.0,
    )  # fmt: skip
    on_bundle = AutoMaskGenerator(open_bundle(out, 2), config, "grid").generate(photo)
    reference = AutoMaskGenerator(TorchRuntime(tiny_model, max_points=8), config, "grid").generate(photo)
    assert on_bundle.points_decoded == reference.points_decoded == 16
    assert len(on_bundle) == len(reference) > 0
    for ours, theirs in zip(on_bundle, reference, strict=True):
        agreement = (ours["segmentation"] == theirs["segmentation"]).mean()
        assert agreement > 0.999 and abs(ours["predicted_iou"] - theirs["predicted_iou"]) < 1e-3


def test_mask_stats_equal_the_full_upscale(tiny_model):
    """Windowed upscaling gives exactly the full-frame stability, box and emptiness."""
    from tinysam_mobile import mask_ops, transforms
    from tinysam_mobile.automatic_mask_generator import _ImageRun

    rng = np.random.default_rng(0)
    for height, width in ((480, 640), (700, 333), (1024, 1024), (37, 900)):
        predictor = Predictor(OracleRuntime(synthetic_scene(height, width, 1)))
        predictor.set_image(np.zeros((height, width, 3), np.uint8))
        run = _ImageRun(predictor, EverythingConfig(), None)
        for trial in range(6):
            logits = np.full((run.keep_h, run.keep_w), -20.0, np.float32)
            y, x = rng.integers(0, run.keep_h), rng.integers(0, run.keep_w)
            h, w = rng.integers(1, 60), rng.integers(1, 60)
            logits[y : y + h, x : x + w] = rng.normal(2.0, 3.0, logits[y : y + h, x : x + w].shape)
            if trial == 0:
                logits[:] = rng.normal(0.0, 3.0, logits.shape)  # everywhere, edges included
            full = transforms.upscale_to_input(run._canvas(logits[None]), run.input_size)[:, 0].numpy()
            stability, box, nonempty = run._mask_stats(logits)
            assert stability == mask_ops.stability_scores(full, 0.0, 1.0)[0]
            assert nonempty == bool((full > 0).any())
            if nonempty:
                np.testing.assert_array_equal(box, mask_ops.masks_to_boxes(full > 0)[0])


@pytest.mark.slow
def test_everything_finds_the_objects_of_a_trained_scene(synthetic_model):
    """The shipped trained model, hierarchical everything (16 x 16 dense round, to keep it short)
    on the first scene it was trained on: its whole objects come back as masks."""
    from tinysam_mobile.assets import SCENE_ANNOTATIONS, bundled_scenes

    coco = json.loads(SCENE_ANNOTATIONS.read_text())
    info = coco["images"][0]
    assert bundled_scenes()[0].name == info["file_name"]
    image = np.asarray(Image.open(bundled_scenes()[0]).convert("RGB"))
    truth = [rle.decode(a["segmentation"]) for a in coco["annotations"] if a["image_id"] == info["id"]]
    generator = AutoMaskGenerator(synthetic_model, strategy="hierarchical", points_per_side=16)
    masks = [r["segmentation"] for r in generator.generate(image)]
    from tinysam_mobile.toolchain.evaluation import mask_iou

    found = [max((mask_iou(t, m) for m in masks), default=0.0) >= 0.5 for t in truth]
    print(f"found {sum(found)}/{len(truth)} objects with {len(masks)} masks")
    assert sum(found) == len(truth), (sum(found), len(truth))
