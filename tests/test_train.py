"""Training: scenes, prompt sampling, losses, shared-resolution models, the loop, resume, DDP, distillation.

Everything runs the tiny config at small sizes, one thread, a handful of steps.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinysam_mobile import transforms
from tinysam_mobile.checkpoints import load_checkpoint
from tinysam_mobile.cli.evaluate import main as evaluate_main
from tinysam_mobile.cli.train import config_from_args, main
from tinysam_mobile.modeling import TINY, build_untrained
from tinysam_mobile.toolchain.evaluation import interior_point
from tinysam_mobile.toolchain.training import loop, losses, pool, scenes
from tinysam_mobile.toolchain.training.checkpointing import load_state
from tinysam_mobile.toolchain.training.data import BatchRecipe, make_batch, pool_sample, training_sample
from tinysam_mobile.toolchain.training.evaluation import EvalResult, evaluate, score
from tinysam_mobile.toolchain.training.loop import TrainConfig, Trainer, fresh_model
from tinysam_mobile.toolchain.training.models import SharedResolutions, capture_decoder_tokens
from tinysam_mobile.toolchain.training.objective import SamObjective
from tinysam_mobile.toolchain.training.prompts import (
    WHOLE_PRIOR,
    PromptStructure,
    correction_points,
    mask_boxes,
    sample_prompts,
)
from tinysam_mobile.toolchain.training.schedule import learning_rate, parse_resolutions, plan_phases

RED, GREEN, BLUE, GREY = (
    np.array(c, float) for c in ([220, 20, 20], [20, 200, 20], [20, 20, 220], [128] * 3)
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _solid(color: np.ndarray) -> scenes.Texture:
    return scenes.Texture("solid", np.stack([color, color]))


def _rect(x0: float, y0: float, x1: float, y1: float) -> scenes.Shape:
    return scenes.Shape(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))


def _hand_made_scene() -> scenes.SceneSpec:
    """A red whole (0) with a blue part (1), then a green object (2) occluding the whole's right end."""
    return scenes.SceneSpec(
        100,
        200,
        _solid(GREY),
        (
            scenes.Instance(_rect(20, 20, 120, 80), _solid(RED)),
            scenes.Instance(_rect(40, 30, 70, 60), _solid(BLUE), parent=0),
            scenes.Instance(_rect(100, 10, 160, 90), _solid(GREEN)),
        ),
    )


# --------------------------------------------------------------------------- scenes


def test_scenes_are_deterministic_per_entropy():
    a, b, c = (scenes.generate_scene(e) for e in ((0, 1, 5), (0, 1, 5), (0, 1, 6)))
    ra, rb, rc = (scenes.render(s, 0.25, (0, 0, 64, 64)) for s in (a, b, c))
    assert np.array_equal(ra.image, rb.image) and np.array_equal(ra.owner, rb.owner)
    assert not np.array_equal(ra.image, rc.image)


def test_masks_match_what_is_drawn():
    scene = scenes.render(_hand_made_scene(), 1.0, (0, 0, 200, 100))
    whole, part, other = scene.masks()
    assert tuple(scene.image[50, 90]) == tuple(RED.astype(np.uint8))  # whole's own pixels
    assert tuple(scene.image[45, 55]) == tuple(BLUE.astype(np.uint8))  # the part, on top of it
    assert tuple(scene.image[50, 110]) == tuple(GREEN.astype(np.uint8))  # the occluder
    assert tuple(scene.image[5, 5]) == tuple(GREY.astype(np.uint8))
    # instance ids and nesting: the part belongs to the whole; the occluder removes pixels
    assert scene.owner[45, 55] == 2 and scene.owner[50, 90] == 1 and scene.owner[50, 110] == 3
    assert (part <= whole).all() and part[45, 55] and whole[45, 55]
    assert not (whole & other).any() and not whole[50, 110]
    # areas up to a one-pixel border (edge pixels covered by half count as inside)
    for mask, (w, h) in ((whole, (80, 60)), (part, (30, 30)), (other, (60, 80))):
        assert w * h <= mask.sum() <= (w + 1) * (h + 1)


def test_render_scale_and_window_agree():
    """A crop of the scene drawn at a scale is the same window of the whole drawing at that scale
    (up to a few edge pixels: PIL clips polygons at the canvas border slightly differently)."""
    spec = scenes.generate_scene((3, 1, 0))
    full = scenes.render(spec, 0.25, (0, 0, 200, 200))
    crop = scenes.render(spec, 0.25, (40, 30, 64, 64))
    assert (crop.owner != full.owner[30:94, 40:104]).mean() < 0.002
    same = crop.owner == full.owner[30:94, 40:104]
    diff = np.abs(crop.image.astype(int) - full.image[30:94, 40:104])[same]
    assert np.median(diff) <= 1 + 2 * spec.pixel_noise


def test_training_samples_hold_usable_instances():
    sample = training_sample(0, (0, 0, 0), 128, crop_prob=0.5)
    assert sample.image.shape == (3, 128, 128) and sample.masks.shape[1:] == (128, 128)
    assert sample.masks.flatten(1).sum(1).min() >= 12
    h, w = sample.valid
    assert not sample.masks[:, h:].any() and not sample.masks[:, :, w:].any()


# --------------------------------------------------------------------------- prompts


def _nested_masks(size: int = 64) -> torch.Tensor:
    """Three nested squares (whole, part, sub-part) and one separate object."""
    masks = torch.zeros(4, size, size, dtype=torch.bool)
    masks[0, 4:44, 4:44] = True
    masks[1, 10:34, 10:34] = True
    masks[2, 16:26, 16:26] = True
    masks[3, 50:60, 50:60] = True
    return masks


def test_point_prompts_land_inside_their_target_and_prefer_the_whole():
    masks, gen = _nested_masks(), torch.Generator().manual_seed(0)
    prompts = sample_prompts([masks], [(64, 64)], PromptStructure("point"), 400, gen)
    n = prompts.targets.shape[0]
    x, y = prompts.points[:, 0, 0].long(), prompts.points[:, 0, 1].long()
    assert prompts.targets[torch.arange(n), y, x].all() and (prompts.point_labels == 1).all()
    # a point on the sub-part: the whole with probability WHOLE_PRIOR, else part or sub-part
    deep = masks[2, y, x]
    chose_whole = (prompts.targets[deep] == masks[0]).flatten(1).all(1).float().mean()
    assert abs(float(chose_whole) - WHOLE_PRIOR) < 0.15
    coords, labels = prompts.packed()  # points + the official padding point
    assert coords.shape == (n, 2, 2) and (labels[:, 1] == -1).all()


def test_multi_point_prompts_have_negatives_outside_the_target():
    masks, gen = _nested_masks(), torch.Generator().manual_seed(1)
    prompts = sample_prompts([masks], [(60, 64)], PromptStructure("points", 2, 2), 100, gen)
    n = prompts.targets.shape[0]
    for i in range(4):
        x, y = prompts.points[:, i, 0].long(), prompts.points[:, i, 1].long()
        inside = prompts.targets[torch.arange(n), y, x]
        assert torch.equal(inside, prompts.point_labels[:, i] == 1)
        assert (y < 60).all()  # never in the padding rows
    assert (prompts.point_labels.sum(1) == 2).all()


def test_box_prompts_stay_near_the_ground_truth_box():
    masks, gen = _nested_masks(256), torch.Generator().manual_seed(2)
    prompts = sample_prompts([masks], [(256, 256)], PromptStructure("box"), 50, gen)
    assert prompts.points.shape == (50, 0, 2)
    assert prompts.boxes is not None
    err = (prompts.boxes - mask_boxes(prompts.targets)).abs()
    assert err.max() <= 20 / 1024 * 256 + 1e-4
    coords, labels = prompts.packed()  # a box alone: its two corners, no padding point
    assert torch.equal(coords.reshape(-1, 4), prompts.boxes)
    assert torch.equal(labels[0], torch.tensor([2.0, 3.0]))


def test_correction_points_come_from_the_error_region():
    targets = _nested_masks()[[0, 1, 3]]
    predicted = torch.zeros_like(targets)
    predicted[0, 4:44, 4:24] = True  # the left half of the whole: false negatives only
    predicted[1] = targets[1]
    predicted[1, 0:5, 0:5] = True  # exact plus a false-positive corner
    predicted[2] = targets[2]  # exact: no error
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        coords, labels = correction_points(predicted, targets, gen)
        x, y = coords[:, 0].long(), coords[:, 1].long()
        assert labels[0] == 1 and x[0] >= 24
        assert labels[1] == 0 and x[1] < 5 and y[1] < 5
        assert labels[2] == 1 and targets[2, y[2], x[2]]
        coords, labels = correction_points(predicted, targets, gen, negatives=False)
        assert (labels == 1).all()


# --------------------------------------------------------------------------- losses, schedule


def test_losses_prefer_the_matching_output():
    target = _nested_masks()[:1, :, :]
    good = torch.where(target, 8.0, -8.0)[:, None]
    logits = torch.cat([-good, good, torch.zeros_like(good)], 1)  # N x 3
    result = losses.sam_losses(logits, torch.tensor([[0.0, 1.0, 0.5]]), target[0][None])
    assert float(result.mask) < 0.01
    assert torch.allclose(result.actual_iou[0, 1], torch.tensor(1.0))
    assert float(result.actual_iou[0, 0]) == 0.0


def test_hard_mask_weights():
    t = torch.tensor([[0.8, 0.8, 0.0]])
    s = torch.tensor([[0.8, 0.01, 0.5]])
    h = losses.hard_mask_weights(t, s)
    assert abs(float(h[0, 0]) - 0.5) < 1e-2 and float(h[0, 1]) > 0.99
    assert abs(float(h[0, 2]) - float(torch.sigmoid(torch.tensor(-1.0)))) < 1e-6


def test_schedule():
    phases = plan_phases(parse_resolutions("256:0.8,512:0.15,1024"), 100, 4, 24)
    assert [(p.size, p.start, p.end, p.images, p.prompts) for p in phases] == [
        (256, 0, 80, 4, 24),
        (512, 80, 95, 1, 6),
        (1024, 95, 100, 1, 4),
    ]
    assert learning_rate(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert learning_rate(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert learning_rate(100, 100, 1.0, 10) == pytest.approx(0.02)
    for bad in ("", "100", "256,512", "256:1", "256:1.5", "256:0.7,512:0.7,1024", "2048", "x"):
        with pytest.raises(ValueError):
            parse_resolutions(bad)


# --------------------------------------------------------------------------- models


def test_low_resolution_model_shares_the_full_models_weights():
    full = fresh_model("tiny-test", 0)
    views = SharedResolutions(full)
    low = views.at(256)
    assert low.img_size == 256 and low.prompt_encoder.image_embedding_size == 16
    full_sd, low_sd = full.state_dict(), low.state_dict()
    assert full_sd.keys() == low_sd.keys()
    for key, value in full_sd.items():
        assert low_sd[key].data_ptr() == value.data_ptr(), key
    low.train()
    low.encode(torch.randn(1, 3, 256, 256)).sum().backward()
    grad = full.image_encoder.layers[1].blocks[0].attn.attention_biases.grad
    assert grad is not None and grad.abs().sum() > 0


def test_decoder_tokens_are_captured_without_changing_outputs():
    model = build_untrained(TINY, seed=0)
    emb = model.encode(torch.randn(1, 3, 1024, 1024))
    coords, labels = torch.tensor([[[100.0, 200.0], [0.0, 0.0]]]), torch.tensor([[1.0, -1.0]])
    plain = model.decode(emb, coords, labels)
    with capture_decoder_tokens(model) as tokens:
        captured = model.decode(emb, coords, labels)
    assert torch.equal(plain[0], captured[0]) and torch.equal(plain[1], captured[1])
    assert len(tokens) == 1 and tokens[0].shape == (1, 1 + 4 + 2, TINY.decoder.embed_dim)


# --------------------------------------------------------------------------- loop


def _config(out: Path, **overrides) -> TrainConfig:
    base = TrainConfig(
        out=out,
        config="tiny-test",
        steps=4,
        batch_size=2,
        prompts=3,
        resolution="64:0.5,128",
        warmup=2,
        lr=2e-3,
        threads=1,
        log_every=1,
    )
    return dataclasses.replace(base, **overrides)


def _run_steps(cfg: TrainConfig, n: int) -> tuple[Trainer, list[float]]:
    trainer = Trainer(cfg)
    values = [trainer.train_step()["loss"] for _ in range(n)]
    trainer.log.close()
    return trainer, values


def test_loss_decreases_when_overfitting_one_batch():
    torch.manual_seed(0)
    objective = SamObjective(fresh_model("tiny-test", 0))
    batch = make_batch(0, 0, 0, 64, BatchRecipe(2, 4, max_rounds=0))
    optimizer = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], lr=3e-3)
    history, best = [], []
    for _ in range(40):
        optimizer.zero_grad()
        out = objective(batch)
        out["loss"].backward()
        optimizer.step()
        history.append(float(out["loss"].detach()))
        best.append(float(out["best_iou"]))
    assert np.mean(history[-5:]) < 0.6 * np.mean(history[:5])
    assert np.mean(best[-5:]) > 3 * best[0]


def test_resume_continues_bit_identically(tmp_path: Path):
    _, straight = _run_steps(_config(tmp_path / "a"), 4)
    first, head = _run_steps(_config(tmp_path / "b"), 2)
    first.save()
    _, tail = _run_steps(_config(tmp_path / "b", resume=True), 2)
    assert head + tail == straight


def test_checkpoints_load_safely_and_as_models(tmp_path: Path):
    trainer, _ = _run_steps(_config(tmp_path, steps=1), 1)
    trainer.save()
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    assert payload["step"] == 1 and "optimizer" in payload and "rng" in payload
    assert load_state(tmp_path / "last.pt").step == 1
    for name in ("last.pt", "model.pth"):
        model = load_checkpoint(str(tmp_path / name), TINY).model
        for key, value in trainer.model.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), key


def test_cli_runs_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "run"
    args = ["--out", str(out), "--config", "tiny-test", "--steps", "2", "--batch-size", "1", "--prompts", "2"]
    assert main([*args, "--resolution", "64", "--threads", "1"]) == 0
    assert (out / "last.pt").is_file() and (out / "model.pth").is_file()
    assert "step 2/2" in (out / "train.log").read_text()
    with pytest.raises(SystemExit):
        config_from_args(args)  # the run directory is taken without --resume
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--teacher", "/nonexistent/teacher.pth"], "--teacher"),
        (["--resolution", "300"], "multiple of 16"),
        (["--resolution", "256:0.5,512:0.5"], "remaining steps"),
        (["--resolution", "256,512"], "needs a fraction"),
        (["--distill-weights", "1,2"], "three non-negative"),
        (["--resume"], "does not exist"),
        (["--pool", "8,0,32"], "0 (fresh scenes) only last"),
        (["--pool", "eight"], "comma-separated"),
        (["--grow-at", "0"], "--grow-at"),
    ],
)
def test_cli_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
):
    with pytest.raises(SystemExit):
        config_from_args(["--out", str(tmp_path / "run"), *extra])
    assert message in capsys.readouterr().err


def test_distillation_from_a_tiny_teacher(tmp_path: Path, tiny_checkpoint: Path):
    trainer = Trainer(_config(tmp_path, teacher=str(tiny_checkpoint), max_rounds=2))
    metrics = [trainer.train_step() for _ in range(2)]
    trainer.log.close()
    for m in metrics:
        assert {"embedding", "tokens", "output", "mask", "iou"} <= m.keys()
        assert all(np.isfinite(v) for v in m.values())
        assert m["embedding"] > 0 and m["tokens"] > 0 and m["output"] > 0


def test_ddp_with_two_processes(tmp_path: Path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "tinysam_mobile.train",
        *("--out", str(out), "--config", "tiny-test", "--steps", "2", "--batch-size", "1"),
        *("--prompts", "2", "--resolution", "64", "--threads", "1"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 2 process(es)" in (out / "train.log").read_text()
    assert load_state(out / "last.pt").step == 2


# --------------------------------------------------------------------------- evaluation


def test_interior_point_is_farthest_from_the_border():
    mask = np.zeros((50, 80), bool)
    mask[10:40, 5:75] = True
    x, y = interior_point(mask)
    assert 19 <= x <= 60 and 24 <= y <= 25


def test_evaluation_runs_on_held_out_scenes():
    result = evaluate(build_untrained(TINY, seed=0), objects=2)
    assert result.objects == 2
    assert 0 <= result.point_miou <= result.point_oracle_miou <= 1 and 0 <= result.box_miou <= 1


def test_evaluation_command(tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]):
    args = [str(tiny_checkpoint), "--config", "tiny-test", "--objects", "1", "--threads", "1"]
    assert evaluate_main(["scenes", *args]) == 0
    out = capsys.readouterr().out
    assert "held-out @1024, 1 objects: point mIoU" in out and "all-foreground" in out


def test_evaluation_baselines_need_no_model():
    image = np.zeros((64, 48, 3), np.uint8)
    mask = np.zeros((1, 64, 48), bool)
    mask[0, 8:24, 8:40] = True  # 16 x 32 = 512 px of 3072
    model = build_untrained(dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, img_size=64)))
    result = score(model, [(image, mask)])
    assert result.objects == 1
    assert result.all_foreground_miou == pytest.approx(512 / (64 * 48))
    assert result.fill_box_miou == pytest.approx(1.0)


# --------------------------------------------------------------------------- pool


def test_pool_scenes_are_fixed_usable_and_ship_as_jpeg():
    first = pool.pool_scene(0)
    assert first.image.shape[:2] == first.masks.shape[1:] and max(first.image.shape[:2]) == 1024
    assert len(first.wholes(pool.MIN_OBJECT_AREA)) >= pool.MIN_OBJECTS
    decoded = np.asarray(Image.open(io.BytesIO(first.jpeg)).convert("RGB"))
    assert np.array_equal(decoded, first.image)  # the file that ships is what training saw
    assert pool.pool_scene(1).index > first.index


def test_pool_views_are_whole_scenes_or_native_windows():
    rng = np.random.default_rng(0)
    image, masks, scale = pool.pool_view(0, 256, crop=False, rng=rng)
    assert max(image.shape[:2]) == 256 and masks.shape[1:] == image.shape[:2] and scale == 0.25
    image, masks, scale = pool.pool_view(0, 256, crop=True, rng=rng)
    assert image.shape[:2] == (256, 256) and masks.shape[1:] == (256, 256) and scale == 1.0
    samples = [pool_sample(0, (step, 0, 0), 128, 0.5, pool=2) for step in range(6)]
    assert all(s.masks.shape[0] >= 1 and s.image.shape == (3, 128, 128) for s in samples)


def test_pool_batches_come_from_the_pool():
    batch = make_batch(0, 0, 0, 64, BatchRecipe(2, 3, crop_prob=0.0, max_rounds=0), pool=1)
    whole, _ = pool.whole_scene(0, 64)
    h, w = whole.shape[:2]
    expected = torch.from_numpy(transforms.normalize_and_pad(whole, 64)[0])
    assert torch.equal(batch.images[0], expected) and torch.equal(batch.images[1], expected)
    assert batch.prompts.targets.shape == (6, 64, 64) and not batch.prompts.targets[:, h:, w:].any()


def test_pool_grows_once_fitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fitted = EvalResult(1, 0.95, 0.95, 0.92)
    monkeypatch.setattr(loop, "evaluate_pool", lambda *args, **kwargs: fitted)
    monkeypatch.setattr(loop, "evaluate", lambda *args, **kwargs: fitted)
    trainer = Trainer(_config(tmp_path, pool=(1, 2, 0), grow_at=0.9))
    trainer.train_step()
    assert trainer.pool == 1
    trainer.run_eval()
    assert trainer.pool == 2
    trainer.save()
    trainer.log.close()
    assert load_state(tmp_path / "last.pt").pool_stage == 1
    record = json.loads((tmp_path / "evals.jsonl").read_text().splitlines()[-1])
    assert record["pool"]["scenes"] == 1 and record["held_out"]["box_miou"] == pytest.approx(0.92)
    resumed = Trainer(_config(tmp_path, pool=(1, 2, 0), grow_at=0.9, resume=True))
    resumed.log.close()
    assert resumed.pool == 2


# --------------------------------------------------------------------------- initialisation


def test_locality_init_makes_image_tokens_attend_to_a_nearby_point():
    model = fresh_model("tinysam", 0)
    pe = model.prompt_encoder
    attention = model.mask_decoder.transformer.layers[0].cross_attn_image_to_token
    point = torch.tensor([[[300.0, 700.0]]])
    token = pe.embed_points(point, torch.ones(1, 1))  # PE of the point + foreground embedding
    grid = pe.get_dense_pe()[0].permute(1, 2, 0)  # 64 x 64 x C, cell centres every 16 px
    with torch.no_grad():
        scores = (attention.q_proj(grid) @ attention.k_proj(token)[0, 0]).reshape(64, 64)
    near = scores[700 // 16, 300 // 16]
    assert near > scores.quantile(0.99)  # the point's own cell is among the highest
    assert near > 3 * scores[10, 50].abs()  # and far above a cell far away
    default = fresh_model("tinysam", 0, locality_init=False)
    assert not torch.equal(
        default.mask_decoder.transformer.layers[0].cross_attn_image_to_token.q_proj.weight,
        attention.q_proj.weight,
    )
