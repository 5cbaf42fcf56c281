"""Procedural scenes with ground-truth instance hierarchies (NumPy + PIL only).

A scene is a description in *scene coordinates*: pixels of the scene at its nominal size (longest
side :data:`NOMINAL` = 1024). It holds a background texture and instances drawn in order (later
ones occlude earlier ones). Each instance has a shape (ellipse, polygon, star, ring, blob, thin bar,
letter-like stroke), a texture (solid, gradient, stripes, value noise, a patch of a bundled photo)
and an optional parent: parts lie on top of their parent and sub-parts on top of parts, so a
point can mean sub-part, part or whole.

:func:`render` draws a scene at any scale and window (whole scene downscaled, or a crop at native
scale) into an RGB image and a label map of the instance that owns each pixel; the mask of an
instance is its own pixels plus those of its descendants, minus what later instances occlude.
Edges are anti-aliased (masks rasterised at 2x, a pixel belongs to an instance when it covers at
least half of it). Everything is a deterministic function of the seed entropy given to
:func:`generate_scene`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from ...assets import bundled_photos

NOMINAL = 1024
SUPERSAMPLE = 2

WHOLE_KINDS = ("ellipse", "polygon", "star", "ring", "blob", "bar", "stroke", "rectangle")
WHOLE_WEIGHTS = (0.16, 0.14, 0.10, 0.10, 0.16, 0.10, 0.10, 0.14)
PART_KINDS = ("ellipse", "polygon", "star", "blob", "rectangle", "stroke")
TEXTURE_KINDS = ("solid", "gradient", "stripes", "noise", "photo")
TEXTURE_WEIGHTS = (0.3, 0.2, 0.15, 0.15, 0.2)
MIN_STROKE = 0.015 * NOMINAL  # thinnest bar / stroke: 15 px at full size


@dataclass(frozen=True)
class Texture:
    """A colour field over scene coordinates.

    ``colors`` 2 x 3 (0-255); ``angle`` / ``period`` / ``origin`` orient gradients and stripes;
    ``noise`` a small grid of values in [0, 1] spread over ``extent`` (x0, y0, x1, y1) for
    value noise; ``photo`` indexes :func:`photos` and ``photo_map`` (u0, v0, k) maps scene
    (X, Y) to photo pixels ``(u0 + k X, v0 + k Y)``, tinted towards ``colors[0]`` by ``tint``.
    """

    kind: str
    colors: np.ndarray
    angle: float = 0.0
    period: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)
    noise: np.ndarray | None = None
    extent: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    photo: int = 0
    photo_map: tuple[float, float, float] = (0.0, 0.0, 1.0)
    tint: float = 0.0


@dataclass(frozen=True)
class Shape:
    """A region in scene coordinates: a filled polygon (minus ``holes``) or a thick polyline."""

    outline: np.ndarray  # K x 2 (X, Y)
    holes: tuple[np.ndarray, ...] = ()
    stroke_width: float = 0.0  # > 0: ``outline`` is a polyline of this width with round ends

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        pad = self.stroke_width / 2
        x0, y0 = self.outline.min(0) - pad
        x1, y1 = self.outline.max(0) + pad
        return float(x0), float(y0), float(x1), float(y1)


@dataclass(frozen=True)
class Instance:
    """One object or part: its shape, texture and ``parent`` index (-1 for a whole object)."""

    shape: Shape
    texture: Texture
    parent: int = -1


@dataclass(frozen=True)
class SceneSpec:
    """A scene of ``height x width`` scene pixels (longest side :data:`NOMINAL`)."""

    height: int
    width: int
    background: Texture
    instances: tuple[Instance, ...]
    pixel_noise: float = 0.0  # std of Gaussian sensor noise added after rendering (0-255 scale)

    @property
    def parents(self) -> np.ndarray:
        return np.array([inst.parent for inst in self.instances], dtype=np.int64)


@dataclass(frozen=True)
class RenderedScene:
    """``image`` h x w x 3 uint8, ``owner`` h x w int32 (0 background, ``k + 1`` instance ``k``)."""

    image: np.ndarray
    owner: np.ndarray
    parents: np.ndarray = field(repr=False)

    def masks(self) -> np.ndarray:
        """Instance masks ``K x h x w`` bool: own pixels plus descendants' pixels."""
        k = len(self.parents)
        member = subtree_membership(self.parents)  # (k + 1) x k: owner label -> instance
        table = np.zeros((k + 1, k), dtype=bool)
        table[1:] = member
        return np.moveaxis(table[self.owner], -1, 0)


def subtree_membership(parents: np.ndarray) -> np.ndarray:
    """``M[i, j]`` is True when instance ``i`` is ``j`` or a descendant of ``j`` (``K x K`` bool)."""
    k = len(parents)
    member = np.eye(k, dtype=bool)
    for i in range(k):
        j = parents[i]
        while j >= 0:
            member[i, j] = True
            j = parents[j]
    return member


@functools.cache
def photos() -> tuple[np.ndarray, ...]:
    """The bundled photos as ``H x W x 3`` uint8 arrays (read once per process)."""
    return tuple(np.asarray(Image.open(p).convert("RGB")) for p in bundled_photos())


# --------------------------------------------------------------------------- generation


def generate_scene(entropy: tuple[int, ...]) -> SceneSpec:
    """A random scene, a pure function of ``entropy`` (e.g. ``(seed, stream, index)``)."""
    rng = np.random.default_rng(np.random.SeedSequence(list(entropy)))
    short = int(NOMINAL * rng.uniform(0.6, 1.0))
    height, width = (NOMINAL, short) if rng.random() < 0.35 else (short, NOMINAL)
    background = _random_texture(rng, (0.0, 0.0, float(width), float(height)), background=True)
    instances: list[Instance] = []
    for _ in range(int(rng.integers(3, 15))):
        size = float(np.exp(rng.uniform(np.log(0.05), np.log(0.5)))) * NOMINAL
        center = rng.uniform((0.0, 0.0), (width, height))
        kind = str(rng.choice(WHOLE_KINDS, p=WHOLE_WEIGHTS))
        shape = _random_shape(rng, kind, center, size)
        texture = _random_texture(rng, shape.bounds)
        index = len(instances)
        instances.append(Instance(shape, texture))
        if (
            kind in ("ellipse", "polygon", "blob", "rectangle")
            and size > 0.15 * NOMINAL
            and rng.random() < 0.35
        ):
            _add_parts(rng, instances, index, center, size, depth=2)
    noise = float(rng.uniform(0, 8)) if rng.random() < 0.5 else 0.0
    return SceneSpec(height, width, background, tuple(instances), noise)


def _add_parts(
    rng: np.random.Generator,
    instances: list[Instance],
    parent: int,
    center: np.ndarray,
    size: float,
    depth: int,
) -> None:
    """1-3 parts inside the parent's central region, each with a distinct texture; recursive."""
    parent_colors = instances[parent].texture.colors
    for _ in range(int(rng.integers(1, 4 if depth == 2 else 2))):
        part_size = size * rng.uniform(0.22, 0.45)
        offset = rng.uniform(-1, 1, 2) * (size - part_size) * 0.3
        part_center = center + offset
        kind = str(rng.choice(PART_KINDS))
        shape = _random_shape(rng, kind, part_center, part_size)
        texture = _random_texture(rng, shape.bounds, avoid=parent_colors)
        index = len(instances)
        instances.append(Instance(shape, texture, parent))
        if depth > 1 and part_size > 0.08 * NOMINAL and rng.random() < 0.4:
            _add_parts(rng, instances, index, part_center, part_size, depth - 1)


def _ellipse(center: np.ndarray, rx: float, ry: float, angle: float, n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return _rotate(np.stack([rx * np.cos(t), ry * np.sin(t)], 1), angle) + center


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _radial(center: np.ndarray, radii: np.ndarray, angles: np.ndarray, angle: float) -> np.ndarray:
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return _rotate(pts, angle) + center


def _random_shape(rng: np.random.Generator, kind: str, center: np.ndarray, size: float) -> Shape:
    """A shape of the given kind whose extent is about ``size`` scene pixels."""
    r = size / 2
    angle = float(rng.uniform(0, 2 * np.pi))
    aspect = float(rng.uniform(0.45, 1.0))
    if kind == "ellipse":
        return Shape(_ellipse(center, r, r * aspect, angle))
    if kind == "rectangle":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (r, r * aspect)
        return Shape(_rotate(corners, angle) + center)
    if kind == "polygon":
        n = int(rng.integers(3, 10))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        return Shape(_radial(center, r * rng.uniform(0.55, 1.0, n), angles, angle))
    if kind == "star":
        n = int(rng.integers(4, 9))
        angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        radii = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.4, 0.7))
        return Shape(_radial(center, radii, angles, angle))
    if kind == "blob":
        angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        radii = np.ones_like(angles)
        for k in range(2, 6):
            radii += rng.uniform(0, 0.35 / k) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
        return Shape(_radial(center, r * np.clip(radii, 0.35, None), angles, angle))
    if kind == "ring":
        inner = rng.uniform(0.4, 0.75)
        return Shape(
            _ellipse(center, r, r * aspect, angle), (_ellipse(center, r * inner, r * aspect * inner, angle),)
        )
    width = max(MIN_STROKE, size * rng.uniform(0.05, 0.14))
    if kind == "bar":
        half = _rotate(np.array([[-r, 0.0], [r, 0.0]]), angle)
        return Shape(half + center, stroke_width=width)
    if kind == "stroke":  # a letter-like polyline: a few segments with sharp or gentle turns
        n = int(rng.integers(2, 5))
        steps = rng.uniform(0.4, 1.0, n) * size / n * 1.6
        turns = angle + np.cumsum(rng.uniform(-2.2, 2.2, n))
        pts = np.concatenate(
            [[[0.0, 0.0]], np.cumsum(np.stack([np.cos(turns), np.sin(turns)], 1) * steps[:, None], 0)]
        )
        return Shape(pts - pts.mean(0) + center, stroke_width=width)
    raise ValueError(f"unknown shape kind {kind!r}")


def _random_color(rng: np.random.Generator, avoid: np.ndarray | None = None) -> np.ndarray:
    """An RGB colour; with ``avoid`` (N x 3), one at least 80 away (max channel) from each."""
    for _ in range(20):
        color = rng.uniform(0, 255, 3)
        if avoid is None or np.abs(avoid - color).max(1).min() > 80:
            return color
    return color


def _random_texture(
    rng: np.random.Generator,
    bounds: tuple[float, float, float, float],
    background: bool = False,
    avoid: np.ndarray | None = None,
) -> Texture:
    """A texture spread over ``bounds`` (x0, y0, x1, y1 in scene pixels)."""
    weights = (0.1, 0.15, 0.1, 0.2, 0.45) if background else TEXTURE_WEIGHTS
    kind = str(rng.choice(TEXTURE_KINDS, p=weights))
    c0 = _random_color(rng, avoid)
    c1 = np.clip(c0 + rng.uniform(-90, 90, 3), 0, 255) if rng.random() < 0.7 else _random_color(rng)
    colors = np.stack([c0, c1])
    x0, y0, x1, y1 = bounds
    extent = max(x1 - x0, y1 - y0, 1.0)
    angle = float(rng.uniform(0, 2 * np.pi))
    if kind == "gradient":
        return Texture(kind, colors, angle, extent, (x0, y0))
    if kind == "stripes":
        return Texture(kind, colors, angle, float(rng.uniform(0.04, 0.3)) * extent, (x0, y0))
    if kind == "noise":
        cells = int(rng.integers(2, 12))
        return Texture(kind, colors, noise=rng.random((cells + 1, cells + 1)), extent=bounds)
    if kind == "photo":
        index = int(rng.integers(len(bundled_photos())))
        ph, pw = _photo_shape(index)
        k = float(rng.uniform(0.3, 1.5)) * max(ph, pw) / NOMINAL
        span_x, span_y = (x1 - x0) * k, (y1 - y0) * k
        u0 = rng.uniform(0, max(pw - span_x, 1.0)) - x0 * k
        v0 = rng.uniform(0, max(ph - span_y, 1.0)) - y0 * k
        tint = 0.0 if background else float(rng.uniform(0.0, 0.6))
        return Texture(kind, colors, photo=index, photo_map=(u0, v0, k), tint=tint)
    return Texture("solid", colors)


@functools.cache
def _photo_shape(index: int) -> tuple[int, int]:
    with Image.open(bundled_photos()[index]) as im:
        return im.height, im.width


# --------------------------------------------------------------------------- rendering


def render(spec: SceneSpec, scale: float, window: tuple[int, int, int, int]) -> RenderedScene:
    """Draw ``spec`` scaled by ``scale`` (output px per scene px) inside ``window``.

    ``window`` is (x0, y0, w, h) in output pixels of the scaled scene; parts of it outside the
    scene are filled with the background texture too (callers keep windows inside the scene).
    """
    x0, y0, w, h = window
    image = _texture_patch(spec.background, scale, x0, y0, w, h)
    owner = np.zeros((h, w), dtype=np.int32)
    for k, inst in enumerate(spec.instances):
        bx0, by0, bx1, by1 = inst.shape.bounds
        left, top = max(int(np.floor(bx0 * scale)) - x0 - 1, 0), max(int(np.floor(by0 * scale)) - y0 - 1, 0)
        right, bottom = min(int(np.ceil(bx1 * scale)) - x0 + 1, w), min(int(np.ceil(by1 * scale)) - y0 + 1, h)
        if right <= left or bottom <= top:
            continue
        alpha = _coverage(inst.shape, scale, x0 + left, y0 + top, right - left, bottom - top)
        if not alpha.any():
            continue
        color = _texture_patch(inst.texture, scale, x0 + left, y0 + top, right - left, bottom - top)
        region = image[top:bottom, left:right]
        region += alpha[..., None] * (color - region)
        owner[top:bottom, left:right][alpha >= 0.5] = k + 1
    if spec.pixel_noise > 0:
        noise_rng = np.random.default_rng([x0, y0, w, h, int(scale * 1e6)])
        image += noise_rng.normal(0, spec.pixel_noise, image.shape)
    return RenderedScene(np.clip(image + 0.5, 0, 255).astype(np.uint8), owner, spec.parents)


def _coverage(shape: Shape, scale: float, ox: int, oy: int, w: int, h: int) -> np.ndarray:
    """Fraction of each output pixel of the box (ox, oy, w, h) covered by ``shape`` (h x w float)."""
    s = SUPERSAMPLE
    canvas = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(canvas)

    def to_canvas(points: np.ndarray) -> list[tuple[float, float]]:
        return [tuple(p) for p in ((points * scale - (ox, oy)) * s).tolist()]

    if shape.stroke_width > 0:
        width = max(1, round(shape.stroke_width * scale * s))
        pts = to_canvas(shape.outline)
        draw.line(pts, fill=255, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    else:
        draw.polygon(to_canvas(shape.outline), fill=255)
        for hole in shape.holes:
            draw.polygon(to_canvas(hole), fill=0)
    cover = np.asarray(canvas, dtype=np.float32).reshape(h, s, w, s).mean((1, 3))
    return cover / 255.0


def _texture_patch(tex: Texture, scale: float, ox: int, oy: int, w: int, h: int) -> np.ndarray:
    """The texture sampled at the centres of output pixels (ox.., oy..): ``h x w x 3`` float32."""
    if tex.kind == "photo":
        return _photo_patch(tex, scale, ox, oy, w, h)
    xs = (ox + np.arange(w, dtype=np.float32) + 0.5) / scale
    ys = (oy + np.arange(h, dtype=np.float32) + 0.5) / scale
    c0, c1 = tex.colors.astype(np.float32)
    if tex.kind == "solid":
        return np.broadcast_to(c0, (h, w, 3)).copy()
    if tex.kind in ("gradient", "stripes"):
        proj = (xs[None, :] - tex.origin[0]) * np.cos(tex.angle) + (ys[:, None] - tex.origin[1]) * np.sin(
            tex.angle
        )
        if tex.kind == "gradient":
            t = np.clip(np.abs(proj) / tex.period, 0, 1)
        else:
            t = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * proj / tex.period))
    elif tex.kind == "noise":
        assert tex.noise is not None
        ex0, ey0, ex1, ey1 = tex.extent
        cells = tex.noise.shape[0] - 1
        gx = np.clip((xs - ex0) / max(ex1 - ex0, 1e-6) * cells, 0, cells)
        gy = np.clip((ys - ey0) / max(ey1 - ey0, 1e-6) * cells, 0, cells)
        yy, xx = np.meshgrid(gy, gx, indexing="ij")
        t = ndimage.map_coordinates(tex.noise, [yy, xx], order=1, mode="nearest")
    else:
        raise ValueError(f"unknown texture kind {tex.kind!r}")
    return c0 + t[..., None].astype(np.float32) * (c1 - c0)


def _photo_patch(tex: Texture, scale: float, ox: int, oy: int, w: int, h: int) -> np.ndarray:
    """Bilinear sample of the texture's photo under the scene -> photo map, optionally tinted.

    When an output pixel spans more than two photo pixels, a 2^n box-reduced photo is sampled
    instead, so downscaled photos are not aliased.
    """
    u0, v0, k = tex.photo_map
    step = k / scale
    level = max(0, int(np.floor(np.log2(step)))) if step > 2 else 0
    factor = 2.0**level
    photo = _photo_level(tex.photo, level)
    # PIL's AFFINE maps output (x, y) to input (a x + b y + c, d x + e y + f), on pixel corners.
    data = (
        step / factor,
        0.0,
        (u0 + k * ox / scale) / factor,
        0.0,
        step / factor,
        (v0 + k * oy / scale) / factor,
    )
    patch = photo.transform((w, h), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    out = np.asarray(patch, dtype=np.float32)
    if tex.tint > 0:
        out = out * (1 - tex.tint) + tex.colors[0].astype(np.float32) * tex.tint
    return out.copy()


@functools.cache
def _photo_level(index: int, level: int) -> Image.Image:
    """Bundled photo ``index`` box-reduced by ``2**level``."""
    photo = Image.fromarray(photos()[index])
    return photo.reduce(2**level) if level else photo
