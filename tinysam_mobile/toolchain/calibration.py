"""Calibration data for static activation quantization (and the fp16 range search): images and
sampled prompts.

The images are the bundled ones (:func:`~tinysam_mobile.assets.sample_images`: the scenes the
shipped model was trained on and real photos, alternating) or a folder of the user's. Encoder
samples are the pre-processed images and their mirror images. Decoder samples pair the
float model's embeddings of those photos with prompts of every kind the apps send (single and
multiple points with negatives, boxes, box + point, mask refinement), packed to the fixed-N
contract, so the decoder's activation ranges are those of real use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .. import contract, transforms
from ..assets import sample_images
from ..images import load_image
from ..modeling import Sam
from ..prompts import PromptBatch, pack_prompt
from .export import DecoderModule
from .recipes import Recipe


def calibration_photos(count: int, photo_dir: Path | None = None) -> list[Path]:
    """``count`` photos from ``photo_dir`` (jpg/png) or the bundled images."""
    if photo_dir is None:
        photos = sample_images()
    else:
        photo_dir = Path(photo_dir)
        if not photo_dir.is_dir():
            state = "is not a folder" if photo_dir.exists() else "does not exist"
            raise ValueError(f"calibration folder {photo_dir} {state}; give a folder of .jpg / .png photos")
        photos = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(photos) < count:
        where = photo_dir or "the bundled images"
        raise ValueError(f"calibration needs {count} .jpg / .png photos but {where} has {len(photos)}")
    return photos[:count]


def check_photo_dir(count: int, photo_dir: Path) -> list[Path]:
    """:func:`calibration_photos`, each decoded once, so a bad folder or photo fails before any
    conversion work (:class:`~tinysam_mobile.images.ImageError` names the photo)."""
    photos = calibration_photos(count, photo_dir)
    for photo in photos:
        load_image(photo)
    return photos


def encoder_samples(photos: list[Path], mirrored: bool = True) -> list[torch.Tensor]:
    """Pre-processed encoder inputs ``1 x 3 x 1024 x 1024``: each photo (and its mirror image)."""
    samples = []
    for photo in photos:
        image = load_image(photo).pixels
        variants = (image, np.ascontiguousarray(image[:, ::-1])) if mirrored else (image,)
        for variant in variants:
            samples.append(torch.from_numpy(transforms.preprocess(variant)[0]))
    return samples


def recipe_encoder_samples(recipe: Recipe, photo_dir: Path | None = None) -> list[torch.Tensor]:
    """The encoder calibration inputs a recipe asks for (none unless it calibrates activations)."""
    if not recipe.calibrated:
        return []
    assert recipe.calibration is not None
    calibration = recipe.calibration
    return encoder_samples(calibration_photos(calibration.images, photo_dir), calibration.mirrored)


def _random_prompt(
    rng: np.random.Generator, h: int, w: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One prompt in resized-frame pixels: points, labels, box (any may be None)."""
    kind = rng.integers(4)
    points = labels = box = None
    if kind in (0, 1, 3):
        n = 1 if kind != 1 else int(rng.integers(2, 5))
        points = rng.uniform((0, 0), (w, h), size=(n, 2))
        labels = np.ones(n)
        if n > 1:
            labels[rng.integers(n)] = 0
    if kind in (2, 3):
        x0, y0 = rng.uniform((0, 0), (0.7 * w, 0.7 * h))
        x1, y1 = rng.uniform((x0 + 0.1 * w, y0 + 0.1 * h), (w, h))
        box = np.array([x0, y0, x1, y1])
    return points, labels, box


def decoder_samples(
    model: Sam,
    encoder_inputs: list[torch.Tensor],
    prompts_per_image: int,
    max_points: int,
    seed: int = 0,
    batch: int = 1,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Decoder inputs in the export contract, ``batch`` prompts of one image per sample (the last
    batch of an image is filled by repeating its prompts); about one prompt in four carries a mask
    input."""
    rng = np.random.default_rng(seed)
    decoder = DecoderModule(model).eval()
    h = w = contract.IMG_SIZE  # prompts may fall anywhere in the frame, padding included
    with torch.no_grad():
        for image in encoder_inputs:
            embeddings = model.encode(image)
            prompts = []
            for i in range(prompts_per_image):
                coords, labels = pack_prompt(*_random_prompt(rng, h, w))
                padded = PromptBatch(coords[None], labels[None]).padded_to(max_points)
                args = [embeddings, torch.from_numpy(padded.coords), torch.from_numpy(padded.labels)]
                mask, has_mask = torch.zeros(1, 1, 256, 256), torch.zeros(1)
                if i % 4 == 3:
                    low, iou = decoder(*args, mask, has_mask)
                    mask, has_mask = low[:, int(iou.argmax())][:, None], torch.ones(1)
                prompts.append((*args[1:], mask, has_mask))
            for start in range(0, len(prompts), batch):
                rows = [prompts[(start + k) % len(prompts)] for k in range(batch)]
                yield (embeddings, *(torch.cat(parts) for parts in zip(*rows, strict=True)))
