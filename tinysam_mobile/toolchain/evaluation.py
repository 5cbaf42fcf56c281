"""Quality against ground truth: SAM's interactive protocol on COCO-format instance data.

Per object: one positive point at its interior-most pixel (the maximum of the distance transform,
the image border counting as outside), answered by the mask with the highest predicted IoU; the
ground-truth box (XYXY pixel extent); and optionally ``k`` correction clicks, each at the
interior-most pixel of the larger error region of the previous answer (missed pixels: a positive
click; spurious pixels: a negative one), fed with the previous low-res logits as ``mask_input``.
Every runtime sees the same objects and prompts, so their numbers compare directly; the first
runtime is the reference for "change" and "agreement" (mean IoU between its masks and each
runtime's, over the point and box answers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import rle
from ..mask_ops import masks_to_boxes
from ..predictor import Predictor

PROMPT_KINDS = ("point", "box")


@dataclass(frozen=True)
class GroundTruth:
    """One image and its instance masks (``K x H x W`` bool), from a COCO annotation file."""

    name: str
    image: np.ndarray
    masks: np.ndarray


def load_coco(annotations: Path, images: Path, min_area: int = 1) -> Iterator[GroundTruth]:
    """Images of a COCO instances file (read with pycocotools) with their non-crowd masks of at
    least ``min_area`` pixels; images without such objects are skipped."""
    from pycocotools.coco import COCO

    coco = COCO(str(annotations))
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        masks = [coco.annToMask(a).astype(bool) for a in anns]
        masks = [m for m in masks if m.sum() >= min_area]
        if masks:
            image = np.asarray(Image.open(Path(images) / info["file_name"]).convert("RGB"))
            yield GroundTruth(info["file_name"], image, np.stack(masks))


def interior_point(mask: np.ndarray) -> np.ndarray:
    """(X, Y) of the pixel farthest from the mask's border (and the image's)."""
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return np.array([x, y], dtype=np.float64)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool masks (1.0 when both are empty)."""
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def correction_click(prediction: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The next click on the larger error region: ``(X, Y), label`` (1 missed, 0 spurious)."""
    missed, spurious = truth & ~prediction, prediction & ~truth
    if not missed.any() and not spurious.any():
        return None
    region, label = (missed, 1) if missed.sum() >= spurious.sum() else (spurious, 0)
    return interior_point(region), label


@dataclass
class RuntimeScores:
    """What one runtime answered: IoU with the ground truth per object and prompt kind, the
    chosen masks (for agreement), and timings."""

    name: str
    megabytes: float | None = None  # the bundle's programs (None: the float model)
    ious: dict[str, list[float]] = field(default_factory=dict)
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)
    encode_s: list[float] = field(default_factory=list)
    decode_s: list[float] = field(default_factory=list)

    def add(self, kind: str, iou: float, mask: np.ndarray) -> None:
        self.ious.setdefault(kind, []).append(iou)
        self.masks.setdefault(kind, []).append(mask)

    def miou(self, kind: str) -> float:
        return float(np.mean(self.ious[kind]))


def _answer(
    predictor: Predictor, scores: RuntimeScores, **prompt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The best-by-predicted-IoU mask and its low-res logits, timing the decode."""
    start = time.perf_counter()
    masks, iou, low_res = predictor.predict(**prompt)
    scores.decode_s.append(time.perf_counter() - start)
    best = int(np.argmax(iou))
    return masks[best], low_res[best : best + 1]


def score_image(predictor: Predictor, scores: RuntimeScores, truth: GroundTruth, clicks: int) -> None:
    """Run the protocol on every object of one image."""
    start = time.perf_counter()
    predictor.set_image(truth.image)
    scores.encode_s.append(time.perf_counter() - start)
    boxes = masks_to_boxes(truth.masks)
    for mask, box in zip(truth.masks, boxes, strict=True):
        points, labels = [interior_point(mask)], [1]
        answer, low_res = _answer(
            predictor, scores, point_coords=np.array(points), point_labels=np.array(labels)
        )
        scores.add("point", mask_iou(answer, mask), answer)
        for k in range(clicks):
            click = correction_click(answer, mask)
            if click is not None:
                points.append(click[0])
                labels.append(click[1])
                answer, low_res = _answer(
                    predictor,
                    scores,
                    point_coords=np.array(points),
                    point_labels=np.array(labels),
                    mask_input=low_res,
                )
            scores.add(f"point+{k + 1}", mask_iou(answer, mask), answer)
        answer, _ = _answer(predictor, scores, box=box.astype(np.float64))
        scores.add("box", mask_iou(answer, mask), answer)


def evaluate(
    predictors: dict[str, Predictor],
    data: Iterator[GroundTruth],
    clicks: int = 0,
    progress: Callable[[int], None] = lambda _n: None,
    megabytes: dict[str, float] | None = None,
) -> list[RuntimeScores]:
    """Scores of every predictor (by name, the first is the reference) on ``data``;
    ``megabytes``: the size of each bundle's programs, by predictor name."""
    results = [RuntimeScores(name, (megabytes or {}).get(name)) for name in predictors]
    objects = 0
    for truth in data:
        for predictor, scores in zip(predictors.values(), results, strict=True):
            score_image(predictor, scores, truth, clicks)
        objects += len(truth.masks)
        progress(objects)
    if not objects:
        raise ValueError("the evaluation data holds no objects")
    return results


def report(results: list[RuntimeScores]) -> dict:
    """Per runtime: mIoU per prompt kind, change and mask agreement against the first, timings."""
    reference = results[0]
    kinds = list(reference.ious)
    rows = []
    for scores in results:
        agreement = [
            float(np.mean([mask_iou(a, b) for a, b in zip(scores.masks[k], reference.masks[k], strict=True)]))
            for k in PROMPT_KINDS
        ]
        rows.append(
            {
                "runtime": scores.name,
                "objects": len(scores.ious["point"]),
                "miou": {k: scores.miou(k) for k in kinds},
                "miou_change": {k: scores.miou(k) - reference.miou(k) for k in kinds},
                "agreement_with_reference": float(np.mean(agreement)),
                "megabytes": scores.megabytes,
                "encoder_ms": 1000 * float(np.median(scores.encode_s)),
                "decoder_ms": 1000 * float(np.median(scores.decode_s)),
            }
        )
    return {"reference": reference.name, "kinds": kinds, "runtimes": rows}


def markdown(summary: dict) -> str:
    """The report as a markdown table."""
    kinds = summary["kinds"]
    head = ["runtime", *(f"mIoU {k}" for k in kinds), *(f"Δ {k}" for k in PROMPT_KINDS)]
    head += ["agreement", "MB", "encoder ms", "decoder ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary["runtimes"]:
        cells = [row["runtime"], *(f"{row['miou'][k]:.4f}" for k in kinds)]
        cells += [f"{row['miou_change'][k]:+.4f}" for k in PROMPT_KINDS]
        cells += [
            f"{row['agreement_with_reference']:.4f}",
            "-" if row["megabytes"] is None else f"{row['megabytes']:.1f}",
            f"{row['encoder_ms']:.0f}",
            f"{row['decoder_ms']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_coco(scenes: Iterator[tuple[str, np.ndarray | bytes, np.ndarray]], out_dir: Path) -> Path:
    """Write ``(file name, image, masks)`` scenes as ``images/<file name>`` (an array is saved in
    the name's format; bytes, an encoded image, are written as they are) + ``annotations.json``
    (COCO instances, RLE segmentations, one category ``object``); returns the annotation file."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id, (name, image, masks) in enumerate(scenes, start=1):
        if isinstance(image, bytes):
            (out_dir / "images" / name).write_bytes(image)
        else:
            Image.fromarray(image).save(out_dir / "images" / name)
        height, width = masks.shape[1:]
        images.append({"id": image_id, "file_name": name, "height": height, "width": width})
        for mask, box in zip(masks, masks_to_boxes(masks), strict=True):
            x0, y0, x1, y1 = (int(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": rle.encode(mask),
                    "area": int(mask.sum()),
                    "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                    "iscrowd": 0,
                }
            )
    payload = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(payload))
    return path


def as_json(summary: dict) -> str:
    return json.dumps(summary, indent=2) + "\n"


__all__ = [
    "GroundTruth",
    "RuntimeScores",
    "as_json",
    "correction_click",
    "evaluate",
    "interior_point",
    "load_coco",
    "markdown",
    "mask_iou",
    "report",
    "write_coco",
]
