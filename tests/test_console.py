"""Quiet third-party output: C-level and Python-level noise goes to a log, our lines reach the user."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

from tinysam_mobile import console
from tinysam_mobile.cli import convert as convert_cli
from tinysam_mobile.toolchain.build import BuildResult

NOISE = ("Failed to load", "[START]", "it/s]", "Warning")


def _third_party_noise() -> None:
    os.write(1, b"Failed to load libfoo.so\n")
    os.write(2, b"(00:00) [START] Convert\n")
    print("Applying Transformations: 100%| 3/3 [00:00<00:00, 9.0it/s]", file=sys.stderr)
    print("Model name: x.tflite")
    os.write(2, b"copyreg.py:105: FutureWarning: LeafSpec is deprecated\n")
    warnings.warn("LeafSpec is deprecated", FutureWarning, stacklevel=1)


def test_quiet_keeps_only_our_lines_at_fd_level(capfd: pytest.CaptureFixture[str]):
    with console.quiet():
        _third_party_noise()
        print("ours", file=console.out(), flush=True)
        print("ours too", file=console.err(), flush=True)
    print("after")
    captured = capfd.readouterr()
    assert captured.out == "ours\nafter\n" and captured.err == "ours too\n"


def test_quiet_falls_back_to_python_streams(capsys: pytest.CaptureFixture[str]):
    with console.quiet():
        print("Model name: x.tflite")
        print("ours", file=console.out())
    assert capsys.readouterr().out == "ours\n"


def test_verbose_shows_everything(capfd: pytest.CaptureFixture[str]):
    with console.quiet(verbose=True):
        _third_party_noise()
    captured = capfd.readouterr()
    assert all(text in captured.out + captured.err for text in NOISE)


def test_a_failure_shows_the_tail_of_the_log(capfd: pytest.CaptureFixture[str]):
    with pytest.raises(RuntimeError, match="boom"), console.quiet():
        for i in range(console.TAIL_LINES + 5):
            os.write(2, f"line {i}\n".encode())
        raise RuntimeError("boom")
    err = capfd.readouterr().err
    assert "line 4\n" not in err and "line 5\n" in err and f"line {console.TAIL_LINES + 4}" in err


def test_known_warnings_are_rephrased(capfd: pytest.CaptureFixture[str]):
    with console.quiet():
        warnings.warn("overflow encountered in cast", RuntimeWarning, stacklevel=1)
    assert capfd.readouterr().err == f"warning: {console.REPHRASED['overflow encountered in cast']}\n"


@pytest.mark.parametrize("verbose", [False, True])
def test_convert_command_output(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, verbose: bool
):
    """The convert command's wiring, with a stand-in for the (slow) conversion; a real one is
    checked in tests/test_litert.py."""

    def fake_build(*args, progress, **kwargs) -> BuildResult:
        progress("encoder: convert (fp32)")
        _third_party_noise()
        return BuildResult(tmp_path, {"artifacts": {}}, None)

    monkeypatch.setattr(convert_cli, "build_bundle", fake_build)
    argv = ["--target", "tflite", "--recipe", "fp32", "--out", str(tmp_path), "--no-parity"]
    argv += ["--checkpoint", "untrained", "--model-config", "tiny-test"] + ["--verbose"] * verbose
    assert convert_cli.main(argv) == 0
    captured = capfd.readouterr()
    assert "encoder: convert (fp32)" in captured.out and "UNTRAINED WEIGHTS" in captured.err
    shown = [text for text in NOISE if text in captured.out + captured.err]
    assert shown == (list(NOISE) if verbose else [])
