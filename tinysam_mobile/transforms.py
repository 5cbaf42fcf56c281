"""The one implementation of TinySAM's pre/post-processing contract (see ARCHITECTURE.md).

Pre-processing: longest side -> ``target`` (1024) with ``new = int(old * target / max(h, w) + 0.5)``,
PIL bilinear resize (antialiased when shrinking, exactly as the official torchvision-on-PIL path),
normalize with ``PIXEL_MEAN`` / ``PIXEL_STD`` on the 0-255 scale, zero-pad bottom/right.
Prompts: (X, Y) in original pixels scaled by ``(new_w / old_w, new_h / old_h)``.
Post-processing: 256x256 logits -> bilinear (align_corners=False) to 1024 -> crop to the resized
size -> bilinear to the original size; masks are ``logits > 0``.

Accepted images: ``H x W x 3`` uint8 RGB arrays, ``H x W`` / ``H x W x 1`` uint8 grayscale arrays
(replicated to three channels) and ``PIL.Image`` (read by :func:`tinysam_mobile.images.load_image`:
EXIF orientation applied, every mode converted by its rule or refused, alpha composited on white).
``H x W x 4`` arrays are refused: decide how to treat alpha before calling.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from .contract import IMG_SIZE
from .contract import PIXEL_MEAN as _MEAN
from .contract import PIXEL_STD as _STD
from .images import load_image

PIXEL_MEAN = np.array(_MEAN, dtype=np.float32)
PIXEL_STD = np.array(_STD, dtype=np.float32)


def preprocess_shape(height: int, width: int, target: int = IMG_SIZE) -> tuple[int, int]:
    """Size ``(h', w')`` after resizing the longest side to ``target``.

    Follows the official rule; a side that would round to 0 (e.g. 1 x 5000) is kept at 1 pixel,
    where the official code would fail.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1 pixels, got {height}x{width}")
    scale = target * 1.0 / max(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def as_rgb_uint8(image: np.ndarray | Image.Image) -> np.ndarray:
    """Validate/convert an input image to ``H x W x 3`` uint8 RGB (see the module docstring)."""
    if isinstance(image, Image.Image):
        return load_image(image, reduce=False).pixels
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or PIL.Image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 (0-255), got {image.dtype}; "
            "convert with np.clip(x, 0, 255).astype(np.uint8) after scaling"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        hint = " (RGBA: drop or composite the alpha channel first, e.g. image[..., :3])"
        raise ValueError(
            f"image must be HxWx3 RGB or HxW grayscale, got shape {image.shape}"
            + (hint if image.ndim == 3 and image.shape[2] == 4 else "")
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be at least 1x1 pixels, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def resize_longest_side(image: np.ndarray, target: int = IMG_SIZE) -> np.ndarray:
    """PIL-bilinear resize of an ``H x W x 3`` uint8 image so its longest side is ``target``."""
    h, w = preprocess_shape(image.shape[0], image.shape[1], target)
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))


def normalize_and_pad(resized: np.ndarray, target: int = IMG_SIZE) -> np.ndarray:
    """``h x w x 3`` uint8 -> normalized, zero-padded ``1 x 3 x target x target`` float32."""
    x = (resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    out = np.zeros((1, 3, target, target), dtype=np.float32)
    out[0, :, : x.shape[0], : x.shape[1]] = x.transpose(2, 0, 1)
    return out


def preprocess(image: np.ndarray | Image.Image, target: int = IMG_SIZE) -> tuple[np.ndarray, tuple[int, int]]:
    """Full pre-processing: returns the encoder input and the resized size ``(h', w')``."""
    resized = resize_longest_side(as_rgb_uint8(image), target)
    return normalize_and_pad(resized, target), (resized.shape[0], resized.shape[1])


def transform_coords(
    coords: np.ndarray, original_size: tuple[int, int], target: int = IMG_SIZE
) -> np.ndarray:
    """(X, Y) pixel coordinates ``... x 2`` in the original image -> the resized frame (float64)."""
    old_h, old_w = original_size
    new_h, new_w = preprocess_shape(old_h, old_w, target)
    out = np.array(coords, dtype=np.float64, copy=True)
    out[..., 0] = out[..., 0] * (new_w / old_w)
    out[..., 1] = out[..., 1] * (new_h / old_h)
    return out


def transform_boxes(boxes: np.ndarray, original_size: tuple[int, int], target: int = IMG_SIZE) -> np.ndarray:
    """XYXY boxes ``... x 4`` in the original image -> ``K x 4`` in the resized frame."""
    corners = transform_coords(np.asarray(boxes).reshape(-1, 2, 2), original_size, target)
    return corners.reshape(-1, 4)


def upscale_to_input(
    low_res: torch.Tensor, input_size: tuple[int, int], target: int = IMG_SIZE
) -> torch.Tensor:
    """Low-res logits ``B x C x 256 x 256`` -> logits over the resized image ``B x C x h' x w'``."""
    masks = F.interpolate(low_res, (target, target), mode="bilinear", align_corners=False)
    return masks[..., : input_size[0], : input_size[1]]


def upscale_logits(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    target: int = IMG_SIZE,
) -> torch.Tensor:
    """Low-res logits ``B x C x 256 x 256`` -> logits ``B x C x H x W`` at the original size."""
    masks = upscale_to_input(low_res, input_size, target)
    return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)
