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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


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
    stage is removed and ``destination`` is untouched."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if destination.exists():
        old = destination.with_name(f".{destination.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(destination, old)
        os.replace(stage, destination)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, destination)
