"""The one image loader of the commands and ``Predictor``: files and PIL images -> ``H x W x 3``
uint8 RGB as the user sees them.

Rules:

* **Orientation**: the EXIF orientation is applied, so pixel coordinates are those of the picture
  as viewers display it (a phone photo stored sideways comes out upright).
* **Modes**: ``1``, ``L``, ``P``, ``RGB``, ``RGBX``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` convert
  with Pillow; alpha (``LA``, ``La``, ``PA``, ``RGBA``, ``RGBa``, a palette with transparency) is
  composited **on white**; 16-bit grey (``I;16*``, and ``I`` holding 0..65535) is scaled by
  255 / 65535; float ``F`` images must hold 0..1 and are scaled by 255; any other mode, an ``I``
  image outside 0..65535, an ``F`` image outside 0..1 or with NaN / inf pixels are refused by
  name. Embedded colour profiles are not applied (as in SAM's own loading).
* **Size**: at most :data:`MAX_PIXELS` pixels are decoded. A larger JPEG is decoded at 1/2, 1/4
  or 1/8 of its size (libjpeg's scaled decoding, ``Image.draft``) when ``reduce`` allows it, and
  :attr:`LoadedImage.scale` says by how much; anything else larger is refused with the limit.
  Pillow's decompression-bomb guard never surfaces as a traceback.

Arrays are not this module's business: ``Predictor`` takes them as SAM does (``H x W x 3`` uint8
RGB, see :func:`tinysam_mobile.transforms.as_rgb_uint8`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

MAX_PIXELS = 24_000_000  # decoded pixels; ~0.4 GB peak for segment at this size
JPEG_SCALES = (1, 2, 4, 8)  # libjpeg's scaled decoding factors

_PILLOW_RGB = {"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
_ALPHA = {"LA", "La", "PA", "RGBA", "RGBa"}
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}


class ImageError(ValueError):
    """An image that cannot be read or is refused; the message says which and why."""


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels with where they came from.

    ``pixels``: ``h x w x 3`` uint8 RGB, upright. ``original_size``: ``(H, W)`` of the picture as
    displayed (after EXIF orientation) at full resolution; it differs from the pixels' size only
    when a large JPEG was decoded at reduced size.
    """

    pixels: np.ndarray
    original_size: tuple[int, int]
    name: str

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: decoded pixels per original pixel along X and Y (1.0 at full size)."""
        return self.size[1] / self.original_size[1], self.size[0] / self.original_size[0]

    @property
    def reduced(self) -> bool:
        return self.size != self.original_size

    def to_decoded(self, xy: np.ndarray) -> np.ndarray:
        """Coordinates ``... x 2`` (X, Y) in original pixels -> in the decoded pixels."""
        return np.asarray(xy, np.float64) * np.array(self.scale)


def load_image(
    source: str | os.PathLike[str] | Image.Image, *, reduce: bool = True, max_pixels: int = MAX_PIXELS
) -> LoadedImage:
    """Decode ``source`` by the module's rules; :class:`ImageError` says why when it cannot."""
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else "image"
    image = source if isinstance(source, Image.Image) else _open(Path(name))
    try:
        upright_size = _upright_size(image)
        pixels = image.width * image.height
        if pixels > max_pixels:
            factor = _reduction(image, pixels, max_pixels, name, reduce)
            image.draft(None, (image.width // factor, image.height // factor))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
        image = _upright(image, name)
        rgb = to_rgb(image, name)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot read image {name}: {exc}") from None
    return LoadedImage(rgb, upright_size, name)


def _open(path: Path) -> Image.Image:
    """Open a file lazily (header only); JPEGs beyond Pillow's bomb guard open too (decoded scaled)."""
    if path.is_dir():
        raise ImageError(f"cannot read image {path}: it is a directory")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        if _is_jpeg(path):
            return JpegImagePlugin.JpegImageFile(path)
        raise ImageError(f"cannot read image {path}: {exc}") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None


def _is_jpeg(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


def _reduction(image: Image.Image, pixels: int, max_pixels: int, name: str, reduce: bool) -> int:
    """The JPEG scale factor that brings ``image`` within ``max_pixels``, or :class:`ImageError`."""
    limit = f"{image.width}x{image.height} ({pixels / 1e6:.0f} MP) is over the {max_pixels / 1e6:.0f} MP"
    if not isinstance(image, JpegImagePlugin.JpegImageFile) or image.tile == [] or len(image.tile) != 1:
        raise ImageError(
            f"image {name}: {limit} this tool decodes, and only JPEG can be decoded at reduced size; "
            "downscale it first"
        )
    if not reduce:
        raise ImageError(
            f"image {name}: {limit} decoded at full size; load it at reduced size with "
            "tinysam_mobile.images.load_image (coordinates then scale by LoadedImage.scale) or pass "
            "an H x W x 3 uint8 array"
        )
    for factor in JPEG_SCALES:
        if -(-image.width // factor) * -(-image.height // factor) <= max_pixels:
            return factor
    raise ImageError(f"image {name}: {limit} this tool decodes, even at 1/{JPEG_SCALES[-1]} size")


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """``(H, W)`` as displayed: EXIF orientations 5-8 swap the axes."""
    swapped = _orientation(image) in (5, 6, 7, 8)
    return (image.width, image.height) if swapped else (image.height, image.width)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block: Pillow raises many types
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright(image: Image.Image, name: str) -> Image.Image:
    if _orientation(image) == 1:
        return image
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # malformed EXIF data beyond the orientation tag
        raise ImageError(f"cannot apply the EXIF orientation of {name}: {exc}") from None


def to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """A decoded PIL image -> ``H x W x 3`` uint8 RGB by the module's mode rules."""
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        mode, image = "RGBA", image.convert("RGBA")
    if mode in _PILLOW_RGB:
        return np.asarray(image.convert("RGB"))
    if mode in _ALPHA:
        rgba = image.convert("RGBA") if mode != "La" else image.convert("LA").convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"image {name}: mode {mode} with values {values.min()}..{values.max()}; only 0..65535 "
                "(16-bit) integer images are accepted"
            )
        return _grey(np.rint(values * (255 / 65535)))
    if mode == "F":
        values = np.asarray(image, np.float64)
        if not np.isfinite(values).all():
            raise ImageError(f"image {name}: float image with NaN or infinite pixels")
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ImageError(
                f"image {name}: float image with values {values.min():.4g}..{values.max():.4g}; only "
                "0..1 float images are accepted (scale it to 0..1 or to 8 bits first)"
            )
        return _grey(np.rint(values * 255))
    raise ImageError(f"image {name}: mode {mode!r} is not supported; convert it to RGB first")


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values.astype(np.uint8)[:, :, None], 3, axis=2)
