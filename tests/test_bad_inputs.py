"""Bad-input corpus, part 1: output paths, prompts, configuration and arguments, over the three
commands (``main(argv)`` in process) and the Python API. Every case asserts the exit code (or the
exception), one clear message without a traceback, and that nothing was written or changed.
Part 2 (images, checkpoints, manifests): tests/test_bad_inputs_files.py."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bad_inputs import PHOTO, TINY, assert_refused, read_only, run_cli, snapshot
from tinysam_mobile.automatic_mask_generator import AutoMaskGenerator, EverythingConfig
from tinysam_mobile.cli import convert, everything, segment
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.prompt_validation import PromptError, PromptWarning
from tinysam_mobile.runtimes import TorchRuntime
from tinysam_mobile.toolchain.destination import check_destination

CONVERT = ("--target", "executorch", "--recipe", "fp32", "--no-parity", *TINY)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A user's folder: a photo, a folder of their files, a plain file and a previous bundle."""
    shutil.copy(PHOTO, tmp_path / "photo.jpg")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    (tmp_path / "file.txt").write_text("precious too")
    bundle = tmp_path / "old-bundle"
    bundle.mkdir()
    for name in ("encoder.pte", "decoder.pte"):
        (bundle / name).write_bytes(b"program")
    artifacts = {role: {"file": f"{role}.pte"} for role in ("encoder", "decoder")}
    (bundle / "manifest.json").write_text(json.dumps({"schema_version": 2, "artifacts": artifacts}))
    return tmp_path


# ---------------------------------------------------------------- outputs ----------------------

OUTPUT_CASES = {
    # id: (command, argv with {w} = the user's folder, fragments of the message)
    "convert-out-user-folder": (convert, ["--out", "{w}/mine"], ["not a bundle", "notes.txt"]),
    "convert-out-user-folder-overwrite": (
        convert,
        ["--out", "{w}/mine", "--overwrite"],
        ["not a bundle"],
    ),
    "convert-out-file": (convert, ["--out", "{w}/file.txt"], ["is a file"]),
    "convert-out-under-file": (convert, ["--out", "{w}/file.txt/b"], ["which is a file"]),
    "convert-out-previous-bundle-no-overwrite": (
        convert,
        ["--out", "{w}/old-bundle"],
        ["pass --overwrite"],
    ),
    "convert-out-is-checkpoint": (
        convert,
        ["--out", "{w}/file.txt", "--checkpoint", "{w}/file.txt"],
        ["is an input"],
    ),
    "convert-out-holds-calibration-dir": (
        convert,
        ["--out", "{w}", "--calibration-dir", "{w}/mine"],
        ["holds the input"],
    ),
    "segment-out-is-the-photo": (
        segment,
        ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/photo.jpg", "--overwrite"],
        ["is an input"],
    ),
    "segment-out-no-extension": (
        segment,
        ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/overlay"],
        ["no suffix"],
    ),
    "segment-out-not-an-image-suffix": (
        segment,
        ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/overlay.txt"],
        ["suffix '.txt'"],
    ),
    "segment-out-existing-file": (
        segment,
        ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/photo.jpg"],
        ["is an input"],
    ),
    "segment-out-existing-other-file": (
        segment,
        [PHOTO, "--point", "1,1", "--out", "{w}/photo.jpg"],
        ["exists; pass --overwrite"],
    ),
    "segment-out-folder": (segment, ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/mine.png"], []),
    "segment-out-under-file": (
        segment,
        ["{w}/photo.jpg", "--point", "1,1", "--out", "{w}/file.txt/o.png"],
        ["which is a file"],
    ),
    "everything-json-is-the-photo": (
        everything,
        ["{w}/photo.jpg", "--out", "{w}/o.png", "--json", "{w}/photo.jpg", "--overwrite"],
        ["--json", "is an input"],
    ),
    "everything-out-equals-json": (
        everything,
        ["{w}/photo.jpg", "--out", "{w}/o.png", "--json", "{w}/o.png"],
        ["same file"],
    ),
}


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=list(OUTPUT_CASES))
def test_outputs_are_checked_before_work_and_nothing_is_touched(case, world, capsys, monkeypatch):
    command, argv, fragments = OUTPUT_CASES[case]
    (world / "cwd").mkdir()
    monkeypatch.chdir(world / "cwd")
    if case == "segment-out-folder":
        (world / "mine.png").mkdir()
        fragments = ["is a folder"]
    argv = [str(a).replace("{w}", str(world)) for a in argv]
    extra = list(CONVERT) if command is convert else list(TINY)
    if "--checkpoint" in argv:
        extra = ["--target", "executorch", "--recipe", "fp32", "--model-config", "tiny-test"]
    before = snapshot(world)
    assert_refused(run_cli(command.main, [*argv, *extra], capsys), *fragments)
    assert snapshot(world) == before


def test_convert_out_current_folder_leaves_nothing(world, capsys, monkeypatch):
    monkeypatch.chdir(world)
    before = snapshot(world)
    assert_refused(run_cli(convert.main, ["--out", ".", *CONVERT], capsys), "current folder")
    assert snapshot(world) == before


@pytest.mark.parametrize("command", [convert, segment, everything], ids=["convert", "segment", "everything"])
def test_read_only_folder_is_refused_before_work(command, world, capsys, monkeypatch):
    locked = world / "locked"
    locked.mkdir()
    read_only(locked, monkeypatch)
    before = snapshot(world)
    if command is convert:
        argv = ["--out", locked / "bundle", *CONVERT]
    elif command is segment:
        argv = [world / "photo.jpg", "--point", "1,1", "--out", locked / "o.png", *TINY]
    else:  # the overlay could be written; the JSON could not: neither is
        argv = [world / "photo.jpg", "--out", world / "o.png", "--json", locked / "m.json", *TINY]
    assert_refused(run_cli(command.main, argv, capsys), "cannot write in")
    assert snapshot(world) == before


def test_overwrite_replaces_only_a_previous_bundle(world):
    assert check_destination(world / "old-bundle", overwrite=True) == world / "old-bundle"
    (world / "old-bundle" / "mine.txt").write_text("user file")
    with pytest.raises(ValueError, match="also holds mine.txt"):
        check_destination(world / "old-bundle", overwrite=True)


# ---------------------------------------------------------------- prompts ----------------------

CLI_PROMPTS = {
    "nan-point": (["--point", "nan,10"], "finite"),
    "inf-point": (["--point", "10,inf"], "finite"),
    "float32-overflow-point": (["--point", "1e39,10"], "overflows float32"),
    "nan-box": (["--box", "nan,0,10,10"], "finite"),
    "inverted-box": (["--box", "50,50,10,10"], "X0 < X1"),
    "zero-area-box": (["--box", "10,10,10,40"], "positive area"),
    "label-half": (["--point", "10,10,0.5"], "1 (foreground) or 0"),
    "label-two": (["--point", "10,10,2"], "1 (foreground) or 0"),
    "label-minus-one": (["--point", "10,10,-1"], "1 (foreground) or 0"),
    "point-not-numbers": (["--point", "a,b"], "comma-separated numbers"),
    "box-three-values": (["--box", "1,2,3"], "needs 4 values"),
    "no-prompt": ([], "at least one --point or a --box"),
}


@pytest.mark.parametrize("case", CLI_PROMPTS, ids=list(CLI_PROMPTS))
def test_segment_refuses_nonsense_prompts(case, tmp_path, capsys):
    args, fragment = CLI_PROMPTS[case]
    argparse_error = case in ("point-not-numbers", "box-three-values")
    outcome = run_cli(segment.main, [PHOTO, *args, "--out", tmp_path / "o.png", *TINY], capsys)
    assert_refused(outcome, fragment, code=2 if argparse_error else 1)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def predictor(tiny_model) -> Predictor:
    """The tiny model on a 48 x 64 image, as if in a bundle of 4 slots."""
    predictor = Predictor(TorchRuntime(tiny_model, max_points=4))
    predictor.set_image(np.full((48, 64, 3), 128, np.uint8))
    return predictor


API_PROMPTS = {
    "nan-point": ({"point_coords": [[np.nan, 1]], "point_labels": [1]}, "finite"),
    "inf-point": ({"point_coords": [[1, -np.inf]], "point_labels": [1]}, "finite"),
    "float32-overflow": ({"point_coords": [[1e39, 1]], "point_labels": [1]}, "overflows float32"),
    "nan-box": ({"box": [np.nan, 0, 10, 10]}, "finite"),
    "inverted-box": ({"box": [30, 30, 10, 10]}, "X0 < X1"),
    "zero-area-box": ({"box": [10, 10, 20, 10]}, "positive area"),
    "label-half": ({"point_coords": [[1, 1]], "point_labels": [0.5]}, "1 (foreground) or 0"),
    "labels-without-points": ({"point_labels": [1]}, "given together"),
    "label-count-mismatch": ({"point_coords": [[1, 1], [2, 2]], "point_labels": [1]}, "2 points but 1"),
    "points-not-numbers": ({"point_coords": [["a", 1]], "point_labels": [1]}, "must be numbers"),
    "points-wrong-shape": ({"point_coords": [1, 2, 3], "point_labels": [1]}, "K x 2"),
    "mask-input-wrong-shape": ({"mask_input": np.zeros((256, 256))}, "1 x 256 x 256"),
    "mask-input-nan": ({"mask_input": np.full((1, 256, 256), np.nan)}, "finite logits"),
    "empty-prompt": ({}, "a prompt needs"),
    "four-points-no-box-on-4-slots": (
        {"point_coords": np.ones((4, 2)), "point_labels": np.ones(4)},
        "not-a-point token",
    ),
    "three-points-and-box-on-4-slots": (
        {"point_coords": np.ones((3, 2)), "point_labels": np.ones(3), "box": [0, 0, 9, 9]},
        "2 box corners",
    ),
}


@pytest.mark.parametrize("case", API_PROMPTS, ids=list(API_PROMPTS))
def test_predictor_refuses_nonsense_prompts(case, predictor):
    kwargs, fragment = API_PROMPTS[case]
    with pytest.raises(PromptError) as info:
        predictor.predict(**kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_prompt_budget_counts_the_padding_point(predictor):
    three = {"point_coords": np.ones((3, 2)), "point_labels": np.ones(3)}
    masks, iou, _ = predictor.predict(**three)  # 3 points + the padding point = 4 slots
    assert masks.shape == (3, 48, 64) and np.isfinite(iou).all()
    with pytest.raises(PromptError, match="at most 3 points.*--max-points 5"):
        predictor.predict(point_coords=np.ones((4, 2)), point_labels=np.ones(4))


def test_off_image_point_is_answered_with_a_warning(predictor, tmp_path, capsys):
    with pytest.warns(PromptWarning, match="outside the 64x48 image"):
        masks, _, _ = predictor.predict(point_coords=[[100, -5]], point_labels=[1])
    assert masks.shape == (3, 48, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptWarning)
        predictor.predict(point_coords=[[63, 47]], point_labels=[1])  # inside: no warning


# ---------------------------------------------------------------- config -----------------------

CLI_CONFIG = {
    "nan-pred-iou-thresh": (["--pred-iou-thresh", "nan"], "pred_iou_thresh must be a finite number"),
    "pred-iou-thresh-above-one": (["--pred-iou-thresh", "1.5"], "at most 1.0"),
    "inf-stability-thresh": (["--stability-score-thresh", "inf"], "stability_score_thresh"),
    "points-per-batch-too-big": (["--points-per-batch", "1024"], "points_per_batch must be an integer"),
    "points-per-batch-zero": (["--points-per-batch", "0"], "points_per_batch"),
    "points-per-side-zero": (["--points-per-side", "0"], "points_per_side"),
    "negative-min-region": (["--min-mask-region-area", "-1"], "min_mask_region_area"),
    "zero-stability-offset": (["--stability-score-offset", "0"], "stability_score_offset must be positive"),
}


@pytest.mark.parametrize("case", CLI_CONFIG, ids=list(CLI_CONFIG))
def test_everything_refuses_bad_configuration(case, tmp_path, capsys):
    args, fragment = CLI_CONFIG[case]
    argv = [PHOTO, "--out", tmp_path / "o.png", "--json", tmp_path / "m.json", *args, *TINY]
    assert_refused(run_cli(everything.main, argv, capsys), fragment)
    assert list(tmp_path.iterdir()) == []


API_CONFIG = {
    "nan-pred-iou-thresh": ({"pred_iou_thresh": float("nan")}, "pred_iou_thresh"),
    "points-per-batch-1024": ({"points_per_batch": 1024}, "0.8 MB"),
    "points-per-batch-float": ({"points_per_batch": 2.5}, "points_per_batch must be an integer"),
    "points-per-side-bool": ({"points_per_side": True}, "points_per_side must be an integer"),
}


@pytest.mark.parametrize("case", API_CONFIG, ids=list(API_CONFIG))
def test_everything_config_refuses_bad_values(case):
    kwargs, fragment = API_CONFIG[case]
    with pytest.raises(ValueError, match=fragment):
        EverythingConfig(**kwargs)


def test_generator_refuses_an_unknown_strategy(tiny_model):
    with pytest.raises(ValueError, match="strategy must be one of"):
        AutoMaskGenerator(TorchRuntime(tiny_model), EverythingConfig(), "everything")


# ---------------------------------------------------------------- other arguments --------------

OTHER = {
    "segment-threads-zero": (
        segment,
        ["{p}", "--point", "1,1", "--out", "{t}/o.png", "--threads", "0"],
        1,
        "--threads must be at least 1",
    ),
    "segment-missing-bundle": (
        segment,
        ["{p}", "--point", "1,1", "--out", "{t}/o.png", "--bundle", "{t}/nope"],
        1,
        "manifest.json is missing",
    ),
    "convert-max-points-2": (
        convert,
        ["--out", "{t}/b", "--max-points", "2", *CONVERT],
        2,
        "--max-points must be 3",
    ),
    "convert-unknown-recipe": (convert, ["--out", "{t}/b", "--recipe", "nope", *TINY], 1, "no recipe 'nope'"),
    "convert-missing-calibration-dir": (
        convert,
        ["--out", "{t}/b", "--calibration-dir", "{t}/none", *CONVERT],
        1,
        "calibration folder",
    ),
    "convert-missing-checkpoint": (
        convert,
        ["--out", "{t}/b", "--target", "executorch", "--checkpoint", "{t}/x.pth"],
        1,
        "does not exist",
    ),
    "everything-unknown-strategy": (
        everything,
        ["{p}", "--out", "{t}/o.png", "--strategy", "all"],
        2,
        "invalid choice",
    ),
}


@pytest.mark.parametrize("case", OTHER, ids=list(OTHER))
def test_bad_arguments_are_one_line_errors(case, tmp_path, capsys):
    command, argv, code, fragment = OTHER[case]
    argv = [str(a).replace("{p}", str(PHOTO)).replace("{t}", str(tmp_path)) for a in argv]
    extra = [] if "--checkpoint" in argv or command is convert else list(TINY)
    assert_refused(run_cli(command.main, [*argv, *extra], capsys), fragment, code=code)
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def _calibration(folder: Path, kind: str) -> Path:
    if kind == "a-file":
        folder.write_text("not a folder")
        return folder
    folder.mkdir()
    if kind == "corrupt-photo":
        for name in ("a.jpg", "b.jpg"):
            shutil.copy(PHOTO, folder / name)
        (folder / "c.jpg").write_text("not a photo")
    return folder


@pytest.mark.parametrize(
    "kind,fragment",
    [("empty", "needs 3 .jpg / .png photos"), ("a-file", "is not a folder"), ("corrupt-photo", "c.jpg")],
)
def test_convert_checks_the_calibration_folder_before_work(kind, fragment, tmp_path, capsys):
    calibration = _calibration(tmp_path / "photos", kind)
    before = snapshot(tmp_path)
    argv = ["--out", tmp_path / "b", "--calibration-dir", calibration, "--recipe", "w8a8", *CONVERT[4:]]
    outcome = run_cli(convert.main, ["--target", "executorch", *argv], capsys)
    assert_refused(outcome, fragment)
    assert "UNTRAINED" not in outcome.err and snapshot(tmp_path) == before


def test_segment_warns_about_an_off_image_point_and_answers(tmp_path, capsys):
    photo = tmp_path / "small.png"
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(photo)
    argv = [photo, "--point", "100,-5", "--point", "10,10", "--out", tmp_path / "o.png", *TINY]
    outcome = run_cli(segment.main, argv, capsys)
    assert outcome.code == 0 and "Traceback" not in outcome.err
    assert "warning: point (100, -5) is outside the 40x30 image (SAM accepts it)" in outcome.err
    assert Image.open(tmp_path / "o.png").size == (40, 30)
