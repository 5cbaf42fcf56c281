"""Training batches from generated scenes: images, instance masks, prompts, deterministic per step.

A sample is either the whole scene resized like the inference pre-processing (longest side to
the training size, zero padding bottom/right) or a crop at native scale (the scene drawn at
0.5-1x of its full 1024 size, a ``size x size`` window of it): whole scenes teach the global
layout at the size the model runs at, native crops keep objects at the pixel scale they have at
1024. Everything in a batch is a pure function of ``(seed, step, rank)``; training and evaluation
scenes come from disjoint seed streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ... import transforms
from .pool import pool_view
from .prompts import Prompts, PromptStructure, sample_prompts
from .scenes import generate_scene, render

TRAIN_STREAM = 1
EVAL_STREAM = 2
CALIBRATION_STREAM = 3
# Smallest target, in pixels of the scene at its full size (as in the evaluation): 32 x 32 at 1024.
MIN_SCENE_AREA = 1024
MIN_AREA = 12  # and never fewer output pixels than this
CROP_SCALES = (0.5, 1.0)


@dataclass(frozen=True)
class Sample:
    """One training image: ``image`` ``3 x S x S`` normalized and padded, ``masks`` ``K x S x S``
    bool (usable instances, ``K >= 1``), ``valid`` the (height, width) of real content."""

    image: torch.Tensor
    masks: torch.Tensor
    valid: tuple[int, int]


@dataclass
class Batch:
    """What one training step consumes: ``images`` ``B x 3 x S x S``, prompts for them, the number
    of correction rounds after the first prediction, and the generator for correction clicks."""

    images: torch.Tensor
    prompts: Prompts
    rounds: int
    generator: torch.Generator

    @property
    def size(self) -> int:
        return self.images.shape[-1]

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors on ``device`` (the generator stays on the CPU)."""
        return Batch(self.images.to(device), self.prompts.to(device), self.rounds, self.generator)


@dataclass(frozen=True)
class BatchRecipe:
    """How batches are drawn: images and prompts per image, the chance that a sample is a native
    crop, the largest number of correction rounds, and prompt-kind probabilities."""

    images: int
    prompts_per_image: int
    crop_prob: float = 0.5
    max_rounds: int = 3
    point_prob: float = 0.45
    box_prob: float = 0.3


def training_sample(
    seed: int, key: tuple[int, ...], size: int, crop_prob: float, stream: int = TRAIN_STREAM
) -> Sample:
    """A sample for ``key`` (e.g. ``(step, rank, i)``) of a seed ``stream``; scenes without a
    usable instance in view are skipped deterministically."""
    for attempt in range(100):
        entropy = (seed, stream, *key, attempt)
        rng = np.random.default_rng(np.random.SeedSequence([*entropy, 1]))
        spec = generate_scene(entropy)
        if rng.random() < crop_prob:
            scale = float(rng.uniform(*CROP_SCALES))
            h, w = round(spec.height * scale), round(spec.width * scale)
            x0, y0 = int(rng.integers(0, max(w - size, 0) + 1)), int(rng.integers(0, max(h - size, 0) + 1))
            window = (x0, y0, min(size, w), min(size, h))
        else:
            h, w = transforms.preprocess_shape(spec.height, spec.width, size)
            scale = size / max(spec.height, spec.width)
            window = (0, 0, w, h)
        scene = render(spec, scale, window)
        sample = _to_sample(scene.image, scene.masks(), size, scale)
        if sample is not None:
            return sample
    raise RuntimeError(f"no usable scene for key {key} after 100 attempts")


def pool_sample(seed: int, key: tuple[int, ...], size: int, crop_prob: float, pool: int) -> Sample:
    """A sample for ``key`` of one of the first ``pool`` scenes of the fixed pool
    (:mod:`.pool`): the scene and the choice of a native-scale window are drawn from the key; a
    window without a usable instance is redrawn, and after 20 the whole scene is used."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, TRAIN_STREAM, *key, 2]))
    position = int(rng.integers(pool))
    crop = bool(rng.random() < crop_prob)
    for attempt in range(21 if crop else 1):
        image, masks, scale = pool_view(position, size, crop and attempt < 20, rng)
        sample = _to_sample(image, masks, size, scale)
        if sample is not None:
            return sample
    raise RuntimeError(f"pool scene {position} has no usable instance at size {size}")


def _to_sample(image: np.ndarray, masks: np.ndarray, size: int, scale: float) -> Sample | None:
    """Normalize and pad ``image`` (``h x w x 3`` uint8, ``scale`` output px per scene px); keep
    the instances (``K x h x w`` bool) with the minimum area at that scale, ``None`` if none."""
    h, w = image.shape[:2]
    keep = masks.reshape(len(masks), -1).sum(1) >= max(MIN_AREA, MIN_SCENE_AREA * scale * scale)
    if not keep.any():
        return None
    padded = np.zeros((int(keep.sum()), size, size), dtype=bool)
    padded[:, :h, :w] = masks[keep]
    tensor = torch.from_numpy(transforms.normalize_and_pad(image, size)[0])
    return Sample(tensor, torch.from_numpy(padded), (h, w))


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The torch generator of one step on one rank (prompts, correction clicks)."""
    entropy = np.random.SeedSequence([seed, TRAIN_STREAM, step, rank]).generate_state(2)
    return torch.Generator().manual_seed(int(entropy[0]) << 32 | int(entropy[1]))


def make_batch(seed: int, step: int, rank: int, size: int, recipe: BatchRecipe, pool: int = 0) -> Batch:
    """The batch of ``step`` on ``rank`` at input size ``size``: fresh scenes, or with ``pool``
    > 0 scenes of the first ``pool`` of the fixed pool."""
    gen = step_generator(seed, step, rank)
    samples = [
        pool_sample(seed, (step, rank, i), size, recipe.crop_prob, pool)
        if pool
        else training_sample(seed, (step, rank, i), size, recipe.crop_prob)
        for i in range(recipe.images)
    ]
    structure = _draw_structure(recipe, gen)
    prompts = sample_prompts(
        [s.masks for s in samples], [s.valid for s in samples], structure, recipe.prompts_per_image, gen
    )
    rounds = int(torch.randint(recipe.max_rounds + 1, (1,), generator=gen)) if recipe.max_rounds else 0
    return Batch(torch.stack([s.image for s in samples]), prompts, rounds, gen)


def _draw_structure(recipe: BatchRecipe, gen: torch.Generator) -> PromptStructure:
    u = float(torch.rand(1, generator=gen))
    if u < recipe.point_prob:
        return PromptStructure("point")
    if u < recipe.point_prob + recipe.box_prob:
        return PromptStructure("box")
    n_pos = 1 + int(torch.randint(3, (1,), generator=gen))
    n_neg = (
        int(torch.randint(3, (1,), generator=gen))
        if n_pos > 1
        else 1 + int(torch.randint(2, (1,), generator=gen))
    )
    return PromptStructure("points", n_pos, n_neg)
