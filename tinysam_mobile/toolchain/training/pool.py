"""A fixed pool of generated scenes: what a model is fitted to before it sees fresh ones.

Scene ``i`` of the pool is the ``i``-th usable scene of the pool's seed stream (at least
:data:`MIN_OBJECTS` whole objects of :data:`MIN_OBJECT_AREA` pixels), independent of the run's
``--seed``, so a pool of 32 holds the pool of 8 and every run trains on the same scenes. Each
scene is drawn once at its full size (longest side 1024) and stored as the JPEG that ships
(:func:`encode_jpeg`): training sees exactly the decoded pixels a user opens. A training sample
is then either the whole scene resized with the official pre-processing rule to the training
size, or a window of the full-size scene at native scale (objects at the pixel scale they have at 1024).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ... import transforms
from .scenes import generate_scene, render

POOL_SEED = 20261202
POOL_STREAM = 4
MIN_OBJECTS = 3
TIER1_SCENES = 8  # the scenes tinysam-synthetic is fitted to, shipped with it (assets/scenes)
MIN_OBJECT_AREA = 1024  # pixels at full size: 32 x 32
JPEG_QUALITY = 92


@dataclass(frozen=True)
class PoolScene:
    """One scene of the pool at full size: ``jpeg`` (the file that ships), ``image`` ``H x W x 3``
    uint8 (that file decoded), ``masks`` ``K x H x W`` bool (every instance, parts included),
    ``parents`` ``K`` (-1: whole), ``index`` the scene's position in the pool stream."""

    index: int
    jpeg: bytes
    image: np.ndarray
    masks: np.ndarray
    parents: np.ndarray

    def wholes(self, min_area: int) -> np.ndarray:
        """Masks of the whole objects (not parts) with at least ``min_area`` pixels."""
        masks = self.masks[self.parents < 0]
        return masks[masks.reshape(len(masks), -1).sum(1) >= min_area]


def encode_jpeg(image: np.ndarray) -> bytes:
    """The JPEG file of a pool scene (what ships and what training decodes)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


@functools.cache
def pool_scene(position: int) -> PoolScene:
    """Scene ``position`` of the pool (cached per process)."""
    found, index = -1, 0
    while True:
        spec = generate_scene((POOL_SEED, POOL_STREAM, index))
        scene = render(spec, 1.0, (0, 0, spec.width, spec.height))
        masks = scene.masks()
        wholes = masks[spec.parents < 0]
        if (wholes.reshape(len(wholes), -1).sum(1) >= MIN_OBJECT_AREA).sum() >= MIN_OBJECTS:
            found += 1
            if found == position:
                jpeg = encode_jpeg(scene.image)
                image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
                return PoolScene(index, jpeg, image, masks, spec.parents)
        index += 1


def _downscaled_masks(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """``K x H x W`` bool masks resized to ``height x width`` (a pixel is in when it is at least half
    covered, bilinear with antialias on the 0/1 masks)."""
    out = np.empty((len(masks), height, width), dtype=bool)
    for k, mask in enumerate(masks):
        img = Image.fromarray(mask.astype(np.uint8) * 255)
        out[k] = np.asarray(img.resize((width, height), Image.Resampling.BILINEAR)) >= 128
    return out


@functools.cache
def whole_scene(position: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Scene ``position`` resized like the inference pre-processing to ``size``: (image, masks)."""
    scene = pool_scene(position)
    h, w = transforms.preprocess_shape(*scene.image.shape[:2], size)
    if (h, w) == scene.image.shape[:2]:
        return scene.image, scene.masks
    image = transforms.resize_longest_side(scene.image, size)
    return image, _downscaled_masks(scene.masks, h, w)


def pool_view(
    position: int, size: int, crop: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pool scene ``position`` seen at input ``size``: ``(image h x w x 3 uint8, masks K x h x w
    bool, scale)``, the whole scene resized (``scale`` = size / 1024-ish longest side) or, with
    ``crop``, a ``size x size`` window of the full-size scene (``scale`` 1) at a position drawn
    from ``rng``."""
    scene = pool_scene(position)
    h, w = scene.image.shape[:2]
    if crop and size < max(h, w):
        y0 = int(rng.integers(0, max(h - size, 0) + 1))
        x0 = int(rng.integers(0, max(w - size, 0) + 1))
        window = (slice(y0, y0 + size), slice(x0, x0 + size))
        return scene.image[window], scene.masks[(slice(None), *window)], 1.0
    image, masks = whole_scene(position, size)
    return image, masks, size / max(h, w)
