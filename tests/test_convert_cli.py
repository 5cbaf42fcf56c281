"""The convert command's argument handling and errors (conversions run in tests/parity)."""

from __future__ import annotations

import pytest

from tinysam_mobile.cli.convert import main


def test_list_recipes(capsys):
    assert main(["--list-recipes"]) == 0
    out = capsys.readouterr().out
    assert "executorch:" in out and "fp32" in out and "also: xnnpack_int8" in out and "[default]" in out


def test_unknown_recipe_is_a_clear_error(tmp_path, capsys):
    code = main(
        [
            "--recipe",
            "nope",
            "--out",
            str(tmp_path / "b"),
            "--checkpoint",
            "untrained",
            "--model-config",
            "tiny-test",
        ]
    )
    assert code == 1
    assert "no recipe 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_missing_checkpoint_exits_before_work(tmp_path):
    args = ["--recipe", "fp32", "--out", str(tmp_path / "b"), "--checkpoint", str(tmp_path / "x.pth")]
    with pytest.raises(SystemExit, match="does not exist"):
        main(args)
    assert not (tmp_path / "b").exists()
