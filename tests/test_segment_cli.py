"""The first user command: python -m tinysam_mobile.segment."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ASSETS
from tinysam_mobile.cli.segment import main


def test_writes_overlay(tmp_path, capsys):
    out = tmp_path / "overlay.png"
    args = [
        str(ASSETS / "picture1.jpg"),
        "--point",
        "380,300",
        "--point",
        "100,700,0",
        "--box",
        "120,90,640,700",
        "--checkpoint",
        "untrained",
        "--model-config",
        "tiny-test",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "UNTRAINED WEIGHTS" in captured.err
    assert "predicted IoU" in captured.out
    overlay = np.asarray(Image.open(out))
    assert overlay.shape == (770, 769, 3)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--point", "1,2,5"], "must be 1 (foreground) or 0 (background)"),
        (["--box", "5,5,1,1"], "X0 < X1"),
        (["--point", "a,b"], "comma-separated numbers"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main([str(ASSETS / "picture1.jpg"), *args, "--out", str(tmp_path / "o.png")])
    # argparse prints its errors; the prompt validator's exit with theirs
    assert message in capsys.readouterr().err + str(info.value.code)


def test_missing_prompt_and_bad_image(tmp_path):
    with pytest.raises(SystemExit, match="at least one --point"):
        main([str(ASSETS / "picture1.jpg"), "--out", str(tmp_path / "o.png")])
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    with pytest.raises(SystemExit, match="cannot read image"):
        main([str(bad), "--point", "1,1", "--out", str(tmp_path / "o.png")])


@pytest.mark.slow
def test_segments_with_a_bundle(tmp_path, tiny_model, capsys):
    """--bundle runs a converted bundle instead of the float model."""
    from tinysam_mobile.toolchain.build import build_bundle

    bundle = tmp_path / "bundle"
    build_bundle(tiny_model, "tflite", "fp32", bundle, max_points=8, parity=False, progress=lambda _: None)
    out = tmp_path / "overlay.png"
    args = [str(ASSETS / "picture1.jpg"), "--point", "380,300", "--bundle", str(bundle), "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "predicted IoU" in captured.out and "UNTRAINED WEIGHTS" in captured.err
    assert out.stat().st_size > 0
