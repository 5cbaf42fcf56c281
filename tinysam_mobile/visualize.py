"""Drawing helpers: mask overlays (one mask with prompt markers, or many in distinct colours)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw

OVERLAY_COLOR = np.array([30, 144, 255], dtype=np.float32)


def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    points: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    box: np.ndarray | None = None,
    alpha: float = 0.5,
) -> Image.Image:
    """RGB ``image`` with ``mask`` (H x W bool) tinted, points (green fg / red bg) and box drawn."""
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    out = image.copy()  # only the masked pixels are blended (in float32)
    out[mask] = (
        ((1 - alpha) * image[mask].astype(np.float32) + alpha * OVERLAY_COLOR).round().astype(np.uint8)
    )
    canvas = Image.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    r = max(3, round(max(image.shape[:2]) / 150))
    if points is not None and labels is not None:
        for (x, y), label in zip(points, labels, strict=True):
            color = (0, 200, 0) if label == 1 else (220, 0, 0)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=color, outline=(255, 255, 255))
    if box is not None:
        draw.rectangle(tuple(float(v) for v in box), outline=(255, 200, 0), width=max(2, r // 2))
    return canvas


def overlay_masks(image: np.ndarray, masks: Iterable[np.ndarray], alpha: float = 0.55) -> Image.Image:
    """RGB ``image`` with every mask tinted in its own colour, in the order given (pass them
    largest first so small ones stay visible; a generator keeps one mask in memory at a time)."""
    out = image.astype(np.float32)
    rng = np.random.default_rng(0)
    for mask in masks:
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
        color = rng.uniform(40, 255, size=3).astype(np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * color
    return Image.fromarray(out.round().astype(np.uint8))
