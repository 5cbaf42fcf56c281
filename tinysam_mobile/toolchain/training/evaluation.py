"""How well a model in training segments generated scenes: its pool and held-out scenes.

Objects are whole instances (not parts) with at least :data:`MIN_AREA` visible pixels at full
size. Per object: one positive point at its interior-most pixel (the maximum of the distance
transform, the image border counting as outside) and the exact ground-truth box, each answered
by the mask with the highest predicted IoU (what inference shows), plus for reference the best of
the three masks against the ground truth and two answers that need no model: the whole image
(all foreground: its IoU is the object's area fraction) and the filled box.

* held-out: scenes of the evaluation seed stream (disjoint from every training scene), drawn at
  full size (longest side 1024) and scored at 1024, the size the model is used at;
* pool: the first scenes of the fixed training pool (:mod:`.pool`), at any training size.

Scoring runs the model's own encoder and decoder at the input size; at 1024 that is what
:class:`~tinysam_mobile.predictor.Predictor` computes (the scenes are already 1024 on their long
side).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ... import transforms
from ...contract import LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_FOREGROUND, LABEL_NOT_A_POINT
from ...mask_ops import masks_to_boxes
from ...modeling import Sam
from ..evaluation import interior_point
from .data import EVAL_STREAM, MIN_SCENE_AREA
from .models import SharedResolutions
from .pool import pool_scene, whole_scene
from .scenes import generate_scene, render

MIN_AREA = MIN_SCENE_AREA
EVAL_SEED = 20250101
DECODE_CHUNK = 16


@dataclass(frozen=True)
class EvalResult:
    """Mean IoUs with the ground truth over ``objects`` objects: the picked answer to a point and
    to a box, the best of three to a point, and the two model-free baselines."""

    objects: int
    point_miou: float
    point_oracle_miou: float
    box_miou: float
    all_foreground_miou: float = 0.0
    fill_box_miou: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.objects} objects: point mIoU {self.point_miou:.3f} "
            f"(best of 3 {self.point_oracle_miou:.3f}), box mIoU {self.box_miou:.3f} "
            f"[baselines: all-foreground {self.all_foreground_miou:.3f}, "
            f"filled box {self.fill_box_miou:.3f}]"
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def held_out_objects(count: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(image H x W x 3 uint8, masks K x H x W bool)`` per scene, until ``count`` objects."""
    seen, index = 0, 0
    while seen < count:
        spec = generate_scene((EVAL_SEED, EVAL_STREAM, index))
        index += 1
        scene = render(spec, 1.0, (0, 0, spec.width, spec.height))
        masks = scene.masks()[spec.parents < 0]
        masks = masks[masks.reshape(len(masks), -1).sum(1) >= MIN_AREA][: count - seen]
        if len(masks):
            seen += len(masks)
            yield scene.image, masks


def pool_objects(scenes: int, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The first ``scenes`` pool scenes resized to ``size`` (the official rule), with the masks of
    their whole objects (at least :data:`MIN_AREA` pixels at full size)."""
    for position in range(scenes):
        scene = pool_scene(position)
        image, masks = whole_scene(position, size)
        areas = scene.masks.reshape(len(scene.masks), -1).sum(1)
        keep = (scene.parents < 0) & (areas >= MIN_AREA)
        masks = masks[keep]
        masks = masks[masks.reshape(len(masks), -1).any(1)]
        if len(masks):
            yield image, masks


def _iou(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """IoU of ``N x M x h x w`` bool masks with ``N x h x w`` bool truths: ``N x M``."""
    t = truth[:, None]
    inter = (predicted & t).flatten(2).sum(2).float()
    union = (predicted | t).flatten(2).sum(2).float()
    return inter / union.clamp(min=1)


@torch.no_grad()
def score(model: Sam, scenes: Iterable[tuple[np.ndarray, np.ndarray]]) -> EvalResult:
    """:class:`EvalResult` of ``model`` (run in eval mode at its own input size, which each
    image's long side must equal) on ``(image h x w x 3 uint8, masks K x h x w bool)`` scenes."""
    model.eval()
    size = model.img_size
    point, oracle, box, whole, filled = [], [], [], [], []
    for image, masks in scenes:
        h, w = image.shape[:2]
        if max(h, w) != size:
            raise ValueError(f"a {w}x{h} image cannot be scored at input size {size}")
        embedding = model.encode(torch.from_numpy(transforms.normalize_and_pad(image, size)))
        truth = torch.from_numpy(masks)
        boxes = torch.from_numpy(masks_to_boxes(masks)).float()
        points = torch.from_numpy(np.stack([interior_point(m) for m in masks])).float()
        n = len(masks)
        prompts = {
            "point": (
                torch.stack([points, torch.zeros_like(points)], 1),
                torch.tensor([LABEL_FOREGROUND, LABEL_NOT_A_POINT], dtype=torch.float32).expand(n, 2),
            ),
            "box": (
                boxes.view(n, 2, 2),
                torch.tensor([LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], dtype=torch.float32).expand(n, 2),
            ),
        }
        for kind, (coords, labels) in prompts.items():
            for start in range(0, n, DECODE_CHUNK):
                rows = slice(start, start + DECODE_CHUNK)
                low_res, predicted_iou = model.decode(embedding, coords[rows], labels[rows])
                logits = F.interpolate(low_res, size, mode="bilinear", align_corners=False)
                ious = _iou(logits[..., :h, :w] > 0, truth[rows])
                picked = ious.gather(1, predicted_iou.argmax(1, keepdim=True))[:, 0]
                (point if kind == "point" else box).extend(picked.tolist())
                if kind == "point":
                    oracle.extend(ious.max(1).values.tolist())
        areas = truth.flatten(1).sum(1).float()
        whole.extend((areas / (h * w)).tolist())
        box_areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
        filled.extend((areas / box_areas).tolist())
    means = [float(np.mean(v)) for v in (point, oracle, box, whole, filled)]
    return EvalResult(len(point), *means)


def evaluate(model: Sam, objects: int = 40) -> EvalResult:
    """Held-out scores of ``model`` (a full-size model) at 1024 on ``objects`` objects."""
    return score(model, held_out_objects(objects))


def evaluate_pool(model: Sam, scenes: int, size: int | None = None) -> EvalResult:
    """Scores of ``model`` on the first ``scenes`` pool scenes at input ``size`` (default: the
    model's own; another size runs a view sharing its weights)."""
    view = model if size in (None, model.img_size) else SharedResolutions(model).at(size)
    return score(view, pool_objects(scenes, view.img_size))
