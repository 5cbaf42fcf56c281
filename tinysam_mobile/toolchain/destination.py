"""Where a bundle may be written, decided before any model work.

A bundle goes to a new path or an empty folder; an existing bundle of ours (recognised by its
manifest, holding nothing but its programs, ``manifest.json`` and ``parity/``) is replaced only
with ``overwrite``. Anything else (a user's folder, a file, the current folder) is refused, and
so is a destination that is or holds an input of the conversion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..bundle.manifest import MANIFEST
from ..outputs import OutputError, check_location

PARITY_DIR = "parity"
PARITY_FILES = frozenset({"parity.json", "parity.png"})
FAILED_SUFFIX = ".parity-failed"


def check_destination(out_dir: Path, inputs: Iterable[Path] = (), *, overwrite: bool = False) -> Path:
    """``out_dir`` as an absolute path a bundle may be written to, or :class:`OutputError`."""
    out = check_location(out_dir, "--out", inputs)
    here = Path.cwd().absolute()
    if out == here or out in here.parents:
        raise OutputError(f"--out {out_dir} is the current folder or one above it; name a new folder")
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out {out_dir} is a file; a bundle is a folder, choose another path")
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            foreign = foreign_entries(out)
            if foreign is None:
                raise OutputError(
                    f"--out {out_dir} is a folder that is not a bundle (it holds {_names(entries)}); "
                    "choose a new folder"
                )
            if foreign:
                raise OutputError(
                    f"--out {out_dir} is a bundle but also holds {_names(foreign)}; move them away "
                    "or choose a new folder"
                )
            if not overwrite:
                raise OutputError(
                    f"--out {out_dir} holds a bundle from an earlier run; pass --overwrite to replace it"
                )
    failed = out.with_name(out.name + FAILED_SUFFIX)
    if failed.exists() and not _is_parity_report(failed):
        raise OutputError(
            f"{failed} exists and is not a parity report of ours; a failed conversion would write its "
            "report there: move it away"
        )
    return out


def conversion_inputs(*candidates: object) -> list[Path]:
    """The paths among a conversion's arguments (checkpoint, calibration folder, recipe file) that
    exist: a bundle may not be written over or around them."""
    return [Path(c) for c in candidates if isinstance(c, str | os.PathLike) and Path(c).exists()]


def foreign_entries(folder: Path) -> list[str] | None:
    """Names in ``folder`` that are not part of the bundle described by its manifest; ``None``
    when the folder holds no readable manifest of ours."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = {entry["file"] for entry in manifest["artifacts"].values()}
        int(manifest["schema_version"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not all(isinstance(f, str) and "/" not in f for f in files):
        return None
    allowed = {MANIFEST, *files}
    foreign = [p.name for p in folder.iterdir() if p.name not in allowed and p.name != PARITY_DIR]
    parity = folder / PARITY_DIR
    if parity.exists() and not _is_parity_report(parity):
        foreign.append(PARITY_DIR)
    return sorted(foreign)


def _is_parity_report(folder: Path) -> bool:
    return folder.is_dir() and {p.name for p in folder.iterdir()} <= PARITY_FILES


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
