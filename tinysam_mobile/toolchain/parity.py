"""Mask parity of an artifact runtime against the float reference runtime.

The same images and prompts go through two :class:`~tinysam_mobile.predictor.Predictor` objects,
one over the reference runtime (the float model with the official, unpadded prompt semantics) and
one over the artifact (whose fixed-size decoder pads prompts with unused slots). The images are the
bundled ones (:func:`~tinysam_mobile.assets.sample_images`): on a scene the shipped model was
trained on, the prompts aim at its objects (:func:`scene_cases`); on a photo they sit at fixed
fractions of the image (:data:`PROMPT_CASES`). Per case: low-res logit max-abs and cosine, mask
IoU at threshold 0 (worst of the three masks, at the original resolution), predicted-IoU delta,
best-mask agreement; per image: the embedding cosine. With untrained weights the masks are
whatever the float model produces; the metrics still measure agreement between the two runtimes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import rle
from ..assets import SCENE_ANNOTATIONS, SCENE_DIR
from ..mask_ops import masks_to_boxes
from ..predictor import Predictor
from ..runtimes.base import Runtime
from .evaluation import interior_point
from .recipes import Thresholds


@dataclass(frozen=True)
class PromptCase:
    """A prompt in fractions of the image size, so it applies to any photo."""

    name: str
    points: tuple[tuple[float, float, int], ...] = ()
    box: tuple[float, float, float, float] | None = None
    refine: bool = False  # add the reference's best low-res mask for the same prompt as mask_input


PROMPT_CASES: tuple[PromptCase, ...] = (
    PromptCase("one_point", points=((0.5, 0.5, 1),)),
    PromptCase("three_points_one_negative", points=((0.45, 0.4, 1), (0.6, 0.55, 1), (0.15, 0.85, 0))),
    PromptCase("box", box=(0.2, 0.2, 0.8, 0.8)),
    PromptCase("box_and_point", points=((0.5, 0.5, 1),), box=(0.25, 0.15, 0.75, 0.9)),
    PromptCase("mask_input_refinement", points=((0.5, 0.45, 1),), refine=True),
)


def scene_cases(masks: np.ndarray) -> tuple[PromptCase, ...]:
    """The five kinds of :data:`PROMPT_CASES` aimed at a scene's objects (``masks`` ``K x H x W``
    bool, its whole objects): a point at the interior-most pixel of the largest object; that point,
    the object's pixel farthest from it among its deep ones, and a negative at the interior-most
    pixel of the second largest object (or of the background); the object's box; box and point;
    the point with the reference's mask fed back."""
    h, w = masks.shape[1:]
    order = np.argsort(-masks.reshape(len(masks), -1).sum(1), kind="stable")
    target = masks[order[0]]
    inside = interior_point(target)
    depth = ndimage.distance_transform_edt(np.pad(target, 1))[1:-1, 1:-1]
    ys, xs = np.nonzero(depth >= depth.max() / 2)
    far = int(np.argmax((xs - inside[0]) ** 2 + (ys - inside[1]) ** 2))
    other = masks[order[1]] if len(masks) > 1 else ~masks.any(0)
    negative = interior_point(other)
    x0, y0, x1, y1 = masks_to_boxes(target[None])[0]

    def frac(x: float, y: float, label: int) -> tuple[float, float, int]:
        return (float(x + 0.5) / w, float(y + 0.5) / h, label)

    point = frac(*inside, 1)
    box = (*frac(x0, y0, 0)[:2], *frac(x1, y1, 0)[:2])
    return (
        PromptCase("one_point", points=(point,)),
        PromptCase(
            "three_points_one_negative", points=(point, frac(xs[far], ys[far], 1), frac(*negative, 0))
        ),
        PromptCase("box", box=box),
        PromptCase("box_and_point", points=(point,), box=box),
        PromptCase("mask_input_refinement", points=(point,), refine=True),
    )


@functools.cache
def _scene_objects() -> dict[str, np.ndarray]:
    """Whole-object masks of each bundled scene, by file name."""
    coco = json.loads(SCENE_ANNOTATIONS.read_text())
    names = {image["id"]: image["file_name"] for image in coco["images"]}
    masks: dict[str, list[np.ndarray]] = {}
    for ann in coco["annotations"]:
        masks.setdefault(names[ann["image_id"]], []).append(rle.decode(ann["segmentation"]))
    return {name: np.stack(m) for name, m in masks.items()}


def cases_for(image: Path) -> tuple[PromptCase, ...]:
    """The prompt cases of a parity image: aimed at its objects for a bundled scene
    (:func:`scene_cases`), :data:`PROMPT_CASES` (fractions of any photo) otherwise."""
    if image.parent == SCENE_DIR / "images" and image.name in _scene_objects():
        return scene_cases(_scene_objects()[image.name])
    return PROMPT_CASES


def case_prompt(case: PromptCase, height: int, width: int) -> dict[str, np.ndarray | None]:
    """Predictor keyword arguments of ``case`` for an ``height x width`` image."""
    scale = np.array([width, height], dtype=np.float64)
    prompt: dict[str, np.ndarray | None] = {"point_coords": None, "point_labels": None, "box": None}
    if case.points:
        prompt["point_coords"] = np.array([p[:2] for p in case.points]) * scale
        prompt["point_labels"] = np.array([p[2] for p in case.points])
    if case.box is not None:
        prompt["box"] = np.array(case.box) * np.concatenate([scale, scale])
    return prompt


@dataclass
class CaseResult:
    """Metrics of one (photo, prompt) case; the best masks and the prompt (pixels), for the picture."""

    photo: str
    case: str
    metrics: dict[str, float]
    reference_mask: np.ndarray = field(repr=False)
    candidate_mask: np.ndarray = field(repr=False)
    prompt: dict[str, np.ndarray | None] = field(default_factory=dict, repr=False)


@dataclass
class ParityReport:
    """All cases, their worst-case summary and the threshold verdict."""

    reference: str
    candidate: str
    cases: list[CaseResult]
    embedding_cosine: dict[str, float]
    thresholds: Thresholds | None = None
    untrained: bool = False
    photos: dict[str, Path] = field(default_factory=dict)  # name -> file, for the picture

    @property
    def summary(self) -> dict[str, float]:
        values = [c.metrics for c in self.cases]
        return {
            "max_logit_abs": max(v["logit_max_abs"] for v in values),
            "min_logit_cosine": min(v["logit_cosine"] for v in values),
            "min_mask_iou": min(v["mask_iou"] for v in values),
            "mean_mask_iou": float(np.mean([v["mean_mask_iou"] for v in values])),
            "max_iou_delta": max(v["iou_delta"] for v in values),
            "mean_best_mask_agreement": float(np.mean([v["best_mask_agrees"] for v in values])),
            "min_embedding_cosine": min(self.embedding_cosine.values()),
        }

    @property
    def judged(self) -> bool:
        """Whether the thresholds apply (see :meth:`Thresholds.judges`)."""
        return self.thresholds is not None and self.thresholds.judges(self.untrained)

    @property
    def failures(self) -> list[str]:
        return self.thresholds.failures(self.summary) if self.judged else []

    def case_failures(self, case: CaseResult) -> list[str]:
        """The bounds ``case`` alone violates (empty when not judged)."""
        return self.thresholds.case_failures(case.metrics) if self.judged else []

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "candidate": self.candidate,
            "summary": self.summary,
            "thresholds": None if self.thresholds is None else asdict(self.thresholds),
            "judged": self.judged,
            "passed": not self.failures,
            "failures": self.failures,
            "embedding_cosine": self.embedding_cosine,
            "cases": [{"photo": c.photo, "case": c.case, **c.metrics} for c in self.cases],
        }

    def write_json(self, path: Path) -> Path:
        """Write ``parity.json`` (:meth:`to_dict`) to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return 1.0 if denom == 0 else float(a @ b / denom)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def compare_outputs(
    ref: tuple[np.ndarray, np.ndarray, np.ndarray], cand: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> dict[str, float]:
    """Metrics between two ``predict(return_logits=True)`` results (masks, iou, low-res)."""
    (ref_logits, ref_iou, ref_low), (cand_logits, cand_iou, cand_low) = ref, cand
    ref_masks, cand_masks = ref_logits > 0, cand_logits > 0
    ious = [_mask_iou(r, c) for r, c in zip(ref_masks, cand_masks, strict=True)]
    return {
        "logit_max_abs": float(np.abs(ref_low - cand_low).max()),
        "logit_cosine": _cosine(ref_low, cand_low),
        "mask_iou": min(ious),
        "mean_mask_iou": float(np.mean(ious)),
        "iou_delta": float(np.abs(ref_iou - cand_iou).max()),
        "best_mask_agrees": float(np.argmax(ref_iou) == np.argmax(cand_iou)),
    }


def run_parity(
    reference: Runtime,
    candidate: Runtime,
    photos: list[Path],
    cases: tuple[PromptCase, ...] | None = None,
    thresholds: Thresholds | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    untrained: bool = False,
) -> ParityReport:
    """Run every case on every photo through both runtimes and collect the metrics
    (``cases``: the same for every photo, default :func:`cases_for` each;
    ``untrained``: the weights are seeded random ones, see :meth:`Thresholds.judges`)."""
    ref_pred, cand_pred = Predictor(reference), Predictor(candidate)
    results: list[CaseResult] = []
    embedding_cosine: dict[str, float] = {}
    for photo in photos:
        image = np.asarray(Image.open(photo).convert("RGB"))
        progress(f"parity: encoding {photo.name} on {reference.name} and {candidate.name}")
        ref_pred.set_image(image)
        cand_pred.set_image(image)
        embedding_cosine[photo.name] = _cosine(
            ref_pred.get_image_embedding(), cand_pred.get_image_embedding()
        )
        for case in cases or cases_for(photo):
            prompt = case_prompt(case, *image.shape[:2])
            drawn = dict(prompt)
            if case.refine:
                _, iou, low = ref_pred.predict(**prompt)
                prompt["mask_input"] = low[int(np.argmax(iou))][None]
            ref = ref_pred.predict(**prompt, return_logits=True)
            cand = cand_pred.predict(**prompt, return_logits=True)
            best = int(np.argmax(ref[1]))
            results.append(
                CaseResult(
                    photo.name,
                    case.name,
                    compare_outputs(ref, cand),
                    ref[0][best] > 0,
                    cand[0][best] > 0,
                    drawn,
                )
            )
    return ParityReport(
        reference.name,
        candidate.name,
        results,
        embedding_cosine,
        thresholds,
        untrained,
        {photo.name: photo for photo in photos},
    )
