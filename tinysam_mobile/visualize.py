"""Drawing helpers: mask overlays (one mask with prompt markers, or many in distinct colours) and
captioned panels of outlined masks laid out on a sheet with a legend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OVERLAY_COLOR = np.array([30, 144, 255], dtype=np.float32)
POSITIVE_COLOR = (0, 200, 0)
NEGATIVE_COLOR = (220, 0, 0)
BOX_COLOR = (255, 200, 0)
TEXT_COLOR = (20, 20, 20)
FONT_SIZE = 13
LINE_HEIGHT = FONT_SIZE + 5

Color = tuple[int, int, int]


def draw_prompt(
    draw: ImageDraw.ImageDraw,
    points: np.ndarray | None,
    labels: np.ndarray | None,
    box: np.ndarray | None,
    radius: int,
    scale: float = 1.0,
) -> None:
    """Points (green foreground, red background) and box, in pixels of the image times ``scale``."""
    r = radius
    if points is not None and labels is not None:
        for (x, y), label in zip(np.asarray(points) * scale, labels, strict=True):
            color = POSITIVE_COLOR if label == 1 else NEGATIVE_COLOR
            draw.ellipse((x - r, y - r, x + r, y + r), fill=color, outline=(255, 255, 255))
    if box is not None:
        draw.rectangle(tuple(float(v) * scale for v in box), outline=BOX_COLOR, width=max(2, r // 2))


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
    draw_prompt(ImageDraw.Draw(canvas), points, labels, box, max(3, round(max(image.shape[:2]) / 150)))
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


def font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's bundled font at :data:`FONT_SIZE`."""
    return ImageFont.load_default(FONT_SIZE)


def _gray(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(mask.astype(np.uint8) * 255)


def mask_outline(mask: np.ndarray, size: tuple[int, int], width: int = 1) -> np.ndarray:
    """Boundary pixels (bool, ``size`` = (width, height)) of ``mask`` area-resized to ``size``,
    about ``width`` pixels thick."""
    inside = np.asarray(_gray(mask).resize(size, Image.Resampling.BOX)) >= 128
    edge = inside & (np.asarray(_gray(inside).filter(ImageFilter.MinFilter(3))) == 0)
    if width > 1:
        edge = np.asarray(_gray(edge).filter(ImageFilter.MaxFilter(2 * (width // 2) + 1))) > 0
    return edge


def outlined_panel(
    image: np.ndarray,
    outlines: Sequence[tuple[np.ndarray, Color, int]],
    prompt: dict[str, np.ndarray | None],
    captions: Sequence[tuple[str, Color]],
    size: int = 256,
) -> Image.Image:
    """``image`` fitted in ``size`` px with each (mask, colour, width) outlined in order, the
    prompt (``point_coords``, ``point_labels``, ``box`` in image pixels) drawn, captions below."""
    scale = size / max(image.shape[:2])
    thumb_size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    thumb = np.asarray(Image.fromarray(image).resize(thumb_size, Image.Resampling.BILINEAR), np.float32)
    thumb = 0.75 * thumb + 0.25 * 255  # lighter, so the outlines stand out
    for mask, color, width in outlines:
        thumb[mask_outline(mask, thumb_size, width)] = color
    picture = Image.fromarray(thumb.round().astype(np.uint8))
    prompt_args = (prompt.get("point_coords"), prompt.get("point_labels"), prompt.get("box"))
    draw_prompt(ImageDraw.Draw(picture), *prompt_args, radius=4, scale=scale)
    panel = Image.new("RGB", (size, size + LINE_HEIGHT * len(captions) + 4), (255, 255, 255))
    panel.paste(picture, ((size - thumb_size[0]) // 2, 0))
    draw = ImageDraw.Draw(panel)
    for i, (text, color) in enumerate(captions):
        draw.text((4, size + 2 + i * LINE_HEIGHT), text, fill=color, font=font())
    return panel


def panel_sheet(
    panels: Sequence[Image.Image],
    columns: int,
    title: Sequence[tuple[str, Color]],
    legend: Sequence[tuple[str, Color]],
    gap: int = 8,
) -> Image.Image:
    """``panels`` in rows of ``columns`` (row-major, in order) under title lines and a legend of
    colour swatches."""
    columns = max(1, min(columns, len(panels)))
    cell_w = max((p.width for p in panels), default=256) + gap
    cell_h = max((p.height for p in panels), default=0) + gap
    rows = -(-len(panels) // columns)
    header = LINE_HEIGHT * (len(title) + 1) + gap
    sheet = Image.new("RGB", (gap + columns * cell_w, header + rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (text, color) in enumerate(title):
        draw.text((gap, gap // 2 + i * LINE_HEIGHT), text, fill=color, font=font())
    x, y = gap, gap // 2 + len(title) * LINE_HEIGHT
    for label, color in legend:
        draw.rectangle((x, y + 3, x + 14, y + 13), fill=color)
        draw.text((x + 20, y), label, fill=TEXT_COLOR, font=font())
        x += 20 + round(draw.textlength(label, font=font())) + 16
    for i, panel in enumerate(panels):
        sheet.paste(panel, (gap + (i % columns) * cell_w, header + (i // columns) * cell_h))
    return sheet
