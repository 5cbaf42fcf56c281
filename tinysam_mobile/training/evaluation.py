"""Held-out evaluation on generated scenes at full size, through the inference path.

Scenes come from the evaluation seed stream (disjoint from every training scene), drawn whole at
their full size (longest side 1024) and run through :class:`~tinysam_mobile.predictor.Predictor`
exactly as a user would. The objects are the whole instances (not parts) with at least
:data:`MIN_AREA` visible pixels. Per object: one positive point at its interior-most pixel (the
maximum of the distance transform, the image border counting as outside), answered by the mask
with the highest predicted IoU (and, for reference, by the best of the three against the ground
truth), and the exact ground-truth box.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..checkpoints import CheckpointError, load_checkpoint
from ..evaluation import interior_point, mask_iou
from ..mask_ops import masks_to_boxes
from ..modeling import CONFIGS, Sam, get_config
from ..predictor import Predictor
from .data import EVAL_STREAM, MIN_SCENE_AREA
from .scenes import generate_scene, render

MIN_AREA = MIN_SCENE_AREA
EVAL_SEED = 20250101


@dataclass(frozen=True)
class EvalResult:
    """Mean IoUs with the ground truth over ``objects`` objects."""

    objects: int
    point_miou: float
    point_oracle_miou: float
    box_miou: float

    def summary(self) -> str:
        return (
            f"eval {self.objects} objects @1024: point mIoU {self.point_miou:.3f} "
            f"(oracle {self.point_oracle_miou:.3f}), box mIoU {self.box_miou:.3f}"
        )


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


def evaluate(model: Sam, objects: int = 40) -> EvalResult:
    """Point and box mIoU of ``model`` (put in eval mode) on ``objects`` held-out objects."""
    predictor = Predictor(model)
    point, oracle, box = [], [], []
    for image, masks in held_out_objects(objects):
        predictor.set_image(image)
        boxes = masks_to_boxes(masks)
        for mask, gt_box in zip(masks, boxes, strict=True):
            pred, iou, _ = predictor.predict(
                point_coords=interior_point(mask)[None], point_labels=np.array([1])
            )
            ious = [mask_iou(p, mask) for p in pred]
            point.append(ious[int(np.argmax(iou))])
            oracle.append(max(ious))
            pred, iou, _ = predictor.predict(box=gt_box)
            box.append(mask_iou(pred[int(np.argmax(iou))], mask))
    return EvalResult(len(point), float(np.mean(point)), float(np.mean(oracle)), float(np.mean(box)))


def main(argv: list[str] | None = None) -> int:
    """``python -m tinysam_mobile.training.evaluation CHECKPOINT [--objects N] [--config C]``."""
    parser = argparse.ArgumentParser(description="held-out generated-scene mIoU at 1024 of a checkpoint")
    parser.add_argument("checkpoint", help="checkpoint file (last.pt, model.pth) or known name")
    parser.add_argument("--objects", type=int, default=100, help="held-out objects (default 100)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--config", default="tinysam", choices=sorted(CONFIGS), help="model configuration")
    args = parser.parse_args(argv)
    if args.objects < 1 or args.threads < 1:
        parser.error("--objects and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    try:
        model = load_checkpoint(args.checkpoint, get_config(args.config)).model
    except CheckpointError as exc:
        parser.error(str(exc))
    print(evaluate(model, args.objects).summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
