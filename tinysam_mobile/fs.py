"""The file-system helpers everything shares: digests and writes that leave nothing half-written."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(path: Path) -> str:
    """Hex sha256 of a file, or of a directory: its files' paths relative to ``path.parent`` and
    their sha256, in sorted path order (the apps compute the same)."""
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path.parent)).encode())
        digest.update(file_sha256(f).encode())
    return digest.hexdigest()


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it when the block succeeds and is removed
    when it fails (parent folders are created)."""
    path = Path(path)
    made = make_parents(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    partial = Path(name)
    partial.chmod(0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield partial
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        remove_empty(made)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(path) as partial:
        if isinstance(content, str):
            partial.write_text(content)
        else:
            partial.write_bytes(content)
    return Path(path)


@contextmanager
def staged_dir(destination: Path) -> Iterator[Path]:
    """A temporary directory beside ``destination`` that takes its place only if the block
    succeeds (a previous ``destination`` is moved aside first and removed after); on failure the
    stage, and any parent folder made for it, is removed and ``destination`` is untouched.

    Deciding *whether* ``destination`` may be replaced is the caller's job
    (:func:`tinysam_mobile.bundle.destination.check_destination` for bundles)."""
    destination = Path(destination).absolute()
    made = make_parents(destination)
    stage = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".staging", dir=destination.parent))
    stage.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the bundle gets the usual permissions
    try:
        yield stage
        _swap_in(stage, destination)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        remove_empty(made)
        raise


def _swap_in(stage: Path, destination: Path) -> None:
    """Move ``stage`` to ``destination``, replacing a previous one only once the move is certain."""
    if not destination.exists():
        os.replace(stage, destination)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".old", dir=destination.parent))
    os.replace(destination, old)  # an empty directory is replaced
    try:
        os.replace(stage, destination)
    except BaseException:
        os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


def make_parents(path: Path) -> list[Path]:
    """Create the missing parent folders of ``path``; returns them, deepest first."""
    missing = [p for p in Path(path).absolute().parents if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove folders made by :func:`make_parents` again, where they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
