"""Helpers of the bad-input corpus (tests/test_bad_inputs*.py): run a command's ``main`` in
process, and check that a refusal is one clear line with nothing left behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ASSETS

PHOTO = ASSETS / "picture1.jpg"
TINY = ("--checkpoint", "untrained", "--model-config", "tiny-test")


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if "error:" in line]


def run_cli(
    main: Callable[[list[str]], int], argv: Sequence[object], capsys: pytest.CaptureFixture
) -> Outcome:
    """``main(argv)`` as the shell would see it: exit code, stdout and stderr (a ``sys.exit``
    message goes to stderr with code 1). Any other exception propagates: a traceback fails."""
    try:
        code = main([str(a) for a in argv])
        message = ""
    except SystemExit as exc:
        code, message = (1, f"{exc.code}\n") if isinstance(exc.code, str) else (exc.code or 0, "")
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err + message)


def assert_refused(outcome: Outcome, *fragments: str, code: int = 1) -> None:
    """Refused with ``code`` and exactly one ``error:`` line holding every fragment; no traceback."""
    assert outcome.code == code, outcome
    assert "Traceback" not in outcome.err
    assert len(outcome.error_lines) == 1, outcome.err
    for fragment in fragments:
        assert fragment in outcome.error_lines[0], outcome.error_lines[0]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with the bytes of files (``None`` for folders), skipping the
    test cache."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if "cache" not in p.relative_to(root).parts
    }


def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder`` read-only; as root (who writes anyway) make the write probe fail as it would."""
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:
        import tinysam_mobile.outputs as outputs

        real = outputs.tempfile.TemporaryFile

        def probe(*args: object, dir: object = None, **kwargs: object):
            if dir is not None and Path(str(dir)).absolute() == folder.absolute():
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(outputs.tempfile, "TemporaryFile", probe)
