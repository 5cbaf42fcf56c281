"""Output paths, checked before any model work: the commands write only where they were told
to, never over an input, a folder or (without ``--overwrite``) an existing file.

:func:`check_output_file` is for files (overlays, JSON); bundle folders add their own rule on top
of :func:`check_location` (:mod:`tinysam_mobile.bundle.destination`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path

from PIL import Image

from .fs import atomic_file

# Overlay formats: RGB images Pillow writes.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class OutputError(ValueError):
    """An output path that would fail, or destroy something, if written."""


def check_location(path: Path, what: str, inputs: Iterable[Path] = ()) -> Path:
    """``path`` as an absolute path whose folder exists or can be made, and is writable; and it
    is none of ``inputs``, lies inside no input folder and holds no input."""
    target = Path(path).absolute()
    ancestor = next(p for p in target.parents if p.exists())
    if not ancestor.is_dir():
        raise OutputError(f"{what} {path} is under {ancestor}, which is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot write in {ancestor} ({exc.strerror or exc})") from None
    for source in inputs:
        source = Path(source).absolute()
        if _same(target, source):
            raise OutputError(f"{what} {path} is an input of this command; choose another path")
        if source.is_dir() and source in target.parents:
            raise OutputError(f"{what} {path} is inside the input folder {source}; choose another path")
        if target in source.parents:
            raise OutputError(f"{what} {path} holds the input {source}; choose another path")
    return target


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_file(
    path: Path, what: str, inputs: Iterable[Path] = (), *, overwrite: bool = False, image: bool = False
) -> Path:
    """An output file path that can be written once the work is done (see the module docstring);
    ``image``: its suffix must name a format of :data:`IMAGE_SUFFIXES`."""
    checked = check_location(path, what, inputs)
    if image:
        image_format(checked, what)
    if checked.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    if checked.exists() and not overwrite:
        raise OutputError(f"{what} {path} exists; pass --overwrite to replace it")
    return checked


def image_format(path: Path, what: str = "output") -> str:
    """Pillow's format name for an overlay path, from its suffix."""
    suffix = Path(path).suffix.lower()
    supported = [s for s in IMAGE_SUFFIXES if Image.registered_extensions().get(s) in Image.SAVE]
    if suffix not in supported:
        found = f"suffix {suffix!r}" if suffix else "no suffix"
        raise OutputError(f"{what} {path} has {found}; name an image file: {', '.join(supported)}")
    return Image.registered_extensions()[suffix]


def check_distinct(paths: dict[str, Path | None]) -> None:
    """Two outputs of one command must not be the same file."""
    seen: dict[Path, str] = {}
    for what, path in paths.items():
        if path is None:
            continue
        key = Path(path).absolute()
        if key in seen:
            raise OutputError(f"{what} and {seen[key]} are the same file {path}")
        seen[key] = what


def write_together(writers: dict[Path, Callable[[Path], object]]) -> None:
    """Write each output through :func:`~tinysam_mobile.fs.atomic_file` (a writer gets the
    temporary path); the files take their places only once every writer has succeeded."""
    with ExitStack() as stack:
        for path, write in writers.items():
            write(stack.enter_context(atomic_file(Path(path))))


def image_writer(image: Image.Image, path: Path) -> Callable[[Path], None]:
    """A writer for :func:`write_together` saving ``image`` in the format ``path``'s suffix names."""
    name = image_format(path)
    return lambda partial: image.save(partial, format=name)
