"""COCO run-length encoding of binary masks in pure NumPy (the format pycocotools reads and writes).

A mask is flattened in column-major (Fortran) order and stored as alternating run lengths,
starting with a run of zeros. ``counts`` is the compressed string form of ``pycocotools``
(``rleToString``): each count, minus the count two places earlier from the fourth on, is written
in little-endian 5-bit groups with a continuation bit, as characters offset by 48.
"""

from __future__ import annotations

import numpy as np


def mask_to_counts(mask: np.ndarray) -> list[int]:
    """``H x W`` bool mask -> uncompressed run lengths (column-major, zeros first)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def counts_to_string(counts: list[int]) -> str:
    """Run lengths -> pycocotools' compressed string."""
    chars = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            chars.append(chr(group + (0x20 if more else 0) + 48))
    return "".join(chars)


def string_to_counts(text: str) -> list[int]:
    """pycocotools' compressed string -> run lengths."""
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise ValueError("truncated RLE string")
            group = ord(text[pos]) - 48
            if not 0 <= group < 64:
                raise ValueError(f"invalid RLE character {text[pos]!r}")
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            pos += 1
            shift += 5
            if not more and group & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode(mask: np.ndarray) -> dict:
    """``H x W`` bool mask -> COCO RLE ``{"size": [H, W], "counts": str}``."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"RLE encodes one H x W mask, got shape {mask.shape}")
    counts = counts_to_string(mask_to_counts(mask))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def decode(rle: dict) -> np.ndarray:
    """COCO RLE (compressed string or list counts) -> ``H x W`` bool mask."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    counts = string_to_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(counts) != height * width:
        raise ValueError(f"RLE counts sum to {sum(counts)}, expected {height} x {width} = {height * width}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((height, width), order="F")


def area(rle: dict) -> int:
    """Foreground pixel count of a COCO RLE."""
    counts = rle["counts"]
    counts = string_to_counts(counts) if isinstance(counts, str) else counts
    return int(sum(counts[1::2]))
