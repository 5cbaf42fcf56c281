"""Static inspection of pickled files: which globals (classes, functions) a pickle would import,
found by reading its opcodes, without executing anything."""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}


def pickle_globals(path: Path) -> list[str]:
    """``module.name`` of every global the pickle(s) in ``path`` reference, in order, deduplicated:
    a torch zip checkpoint's ``data.pkl``, or the consecutive pickles of a plain file (torch's
    legacy format is several). Unreadable parts are skipped: this never raises for bad data."""
    found: list[str] = []
    for stream in _pickle_streams(Path(path)):
        found += _globals_in(stream)
    return list(dict.fromkeys(found))


def _pickle_streams(path: Path) -> list[bytes]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return [archive.read(n) for n in archive.namelist() if n.endswith(".pkl")]
        return [path.read_bytes()]
    except (OSError, zipfile.BadZipFile, ValueError):
        return []


def _globals_in(data: bytes) -> list[str]:
    stream = io.BytesIO(data)
    names: list[str] = []
    while stream.tell() < len(data):
        strings: list[str] = []
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name in _STRING_OPS:
                    strings.append(arg if isinstance(arg, str) else arg.decode("latin-1"))
                elif opcode.name in ("GLOBAL", "INST"):
                    names.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(f"{strings[-2]}.{strings[-1]}")
        except Exception:  # not (or no longer) a pickle: pickletools raises several types
            break
    return names
