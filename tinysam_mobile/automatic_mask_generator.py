"""Segment everything: SAM's dense point grid and TinySAM's hierarchical strategy, on any runtime.

``grid``: one positive point per cell of a ``points_per_side``² grid at ``((i + 0.5) / n)`` of the
image, three masks each, kept when predicted IoU > ``pred_iou_thresh`` and stability ≥
``stability_score_thresh``, then box NMS (SAM's automatic mask generation without crops).

``hierarchical`` (TinySAM, paper defaults 8/32 points, τ = 8.5): decode a sparse
``sparse_points_per_side``² grid first; the pixels where a kept mask's logit exceeds τ form a
high-confidence map; then decode only the points of the dense grid that fall outside it; merge and
run one NMS in which first-round masks win over second-round ones. Compared with the official
``SamHierarchicalMaskGenerator`` this samples the dense round on SAM's own grid (no half-cell shift,
border coverage independent of ``W mod 32``, no zero stride on tiny images), takes both densities as
parameters, returns normally when the first round covers the whole image, keeps no state between
calls, and keeps every candidate at the decoder's 256² resolution: only masks that survive NMS are
upscaled to the image size. Stability scores and NMS boxes are computed on the logits upscaled to
the resized 1024-frame image (SAM: at the original size), a chunk of masks at a time.

The command: ``python -m tinysam_mobile.everything IMAGE ...`` (:mod:`tinysam_mobile.cli.everything`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from . import contract, mask_ops, rle, transforms
from .contract import LABEL_FOREGROUND
from .modeling import Sam
from .predictor import Predictor, check_finite_answer
from .prompts import PromptBatch, pack_prompt
from .runtimes import Runtime

STRATEGIES = ("grid", "hierarchical")
OUTPUT_MODES = ("binary_mask", "coco_rle")
LOW_RES_STRIDE = contract.IMG_SIZE // contract.LOW_RES_SIZE

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EverythingConfig:
    """Parameters; the defaults are the paper's and the official generators'."""

    points_per_side: int = 32
    sparse_points_per_side: int = 8
    high_score_thresh: float = 8.5
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_mask_region_area: int = 0

    def __post_init__(self) -> None:
        for name, low, high in _COUNTS:
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= value <= high:
                span = f"from {low} to {high}" if high < math.inf else f"of at least {low}"
                raise ValueError(f"{name} must be an integer {span}, got {value!r}{_WHY.get(name, '')}")
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not math.isfinite(value) or not low <= value <= high:
                span = f" in [{low}, {high}]" if math.isfinite(low) else ""
                span = span or (f" at most {high}" if math.isfinite(high) else "")
                raise ValueError(f"{name} must be a finite number{span}, got {value!r}")
        if not self.stability_score_offset > 0:
            raise ValueError(f"stability_score_offset must be positive, got {self.stability_score_offset!r}")


# Bounds of EverythingConfig. Memory: every prompt in flight holds 3 low-res logit maps (0.8 MB) in
# the generator, and the float model's decoder ~23 MB, which is why TorchRuntime decodes at most
# TorchRuntime.MAX_BATCH prompts per call; bundles take their program's decoder_batch per call.
MAX_POINTS_PER_BATCH = 256
_COUNTS = (
    ("points_per_side", 1, contract.IMG_SIZE),
    ("sparse_points_per_side", 1, contract.IMG_SIZE),
    ("points_per_batch", 1, MAX_POINTS_PER_BATCH),
    ("min_mask_region_area", 0, math.inf),
)
_WHY = {"points_per_batch": " (each prompt in flight holds 0.8 MB of low-res logits)"}
_RANGES = (
    ("high_score_thresh", -math.inf, math.inf),
    ("pred_iou_thresh", -math.inf, 1.0),  # below 0 keeps every mask (untrained weights predict < 0)
    ("stability_score_thresh", 0.0, 1.0),
    ("stability_score_offset", -math.inf, math.inf),
    ("box_nms_thresh", 0.0, 1.0),
)


class EverythingResult(list):
    """SAM's list of mask records (see :meth:`AutoMaskGenerator.generate`), plus what it cost as
    attributes: ``strategy``, ``points_decoded``, ``decode_calls`` and ``points_skipped``."""

    def __init__(
        self,
        records: list[dict],
        strategy: str,
        points_decoded: int,
        decode_calls: int,
        points_skipped: int = 0,
    ) -> None:
        super().__init__(records)
        self.strategy = strategy
        self.points_decoded = points_decoded
        self.decode_calls = decode_calls
        self.points_skipped = points_skipped


def point_grid(points_per_side: int) -> np.ndarray:
    """``n² x 2`` points (X, Y) in [0, 1] at cell centres ``(i + 0.5) / n``, X varying fastest."""
    ticks = (np.arange(points_per_side) + 0.5) / points_per_side
    xs, ys = np.meshgrid(ticks, ticks)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def low_res_cells(points: np.ndarray, original_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the decoder's low-res cell under each point (X, Y in original pixels)."""
    input_size = transforms.preprocess_shape(*original_size)
    low_h, low_w = (math.ceil(s / LOW_RES_STRIDE) for s in input_size)
    frame = transforms.transform_coords(points, original_size)
    cols = np.clip((frame[:, 0] // LOW_RES_STRIDE).astype(np.int64), 0, low_w - 1)
    rows = np.clip((frame[:, 1] // LOW_RES_STRIDE).astype(np.int64), 0, low_h - 1)
    return rows, cols


@dataclass
class _Candidates:
    """Masks that passed the filters, at low resolution (the decoder's frame, cropped)."""

    logits: list[np.ndarray] = field(default_factory=list)
    iou: list[np.ndarray] = field(default_factory=list)
    stability: list[np.ndarray] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    stage: list[np.ndarray] = field(default_factory=list)

    def add(self, **arrays: np.ndarray) -> None:
        for name, value in arrays.items():
            getattr(self, name).append(value)

    def joined(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name)) if getattr(self, name) else np.zeros((0,))


class _ImageRun:
    """One ``generate`` call: the image geometry, the decoder, the candidates and the counters."""

    def __init__(self, predictor: Predictor, config: EverythingConfig, progress: Progress | None) -> None:
        assert predictor.original_size is not None and predictor.input_size is not None
        self.predictor, self.config, self.progress = predictor, config, progress
        self.original_size, self.input_size = predictor.original_size, predictor.input_size
        # Low-res cells covering the image, plus one row/column so upscaling the crop is exact.
        self.low_h, self.low_w = (math.ceil(s / LOW_RES_STRIDE) for s in self.input_size)
        self.keep_h = min(contract.LOW_RES_SIZE, self.low_h + 1)
        self.keep_w = min(contract.LOW_RES_SIZE, self.low_w + 1)
        self.candidates = _Candidates()
        self.points_decoded = self.decode_calls = 0
        self.points_total = 0

    def pixel_points(self, points_per_side: int) -> np.ndarray:
        height, width = self.original_size
        return point_grid(points_per_side) * np.array([width, height])

    def decode(self, points: np.ndarray, stage: int) -> np.ndarray:
        """Decode positive single-point prompts in batches; keep what passes the filters.

        Returns the high-confidence map (``low_h x low_w`` bool) of the kept masks.
        """
        high = np.zeros((self.low_h, self.low_w), dtype=bool)
        features = self.predictor.get_image_embedding()
        frame = transforms.transform_coords(points, self.original_size)
        for start in range(0, len(points), self.config.points_per_batch):
            chunk = frame[start : start + self.config.points_per_batch]
            packed = [pack_prompt(p[None], np.array([LABEL_FOREGROUND]), None) for p in chunk]
            prompts = PromptBatch(np.stack([c for c, _ in packed]), np.stack([lab for _, lab in packed]))
            low_res, iou = self.predictor.runtime.decode(features, prompts)
            check_finite_answer(self.predictor.runtime, low_res, iou)  # NaN would pass no filter: 0 masks
            high |= self._keep(low_res, iou, points[start : start + len(chunk)], stage)
            self.points_decoded += len(chunk)
            self.decode_calls += 1
            if self.progress is not None:
                self.progress(self.points_decoded, self.points_total)
        return high

    def _keep(self, low_res: np.ndarray, iou: np.ndarray, points: np.ndarray, stage: int) -> np.ndarray:
        cfg = self.config
        per_point = low_res.shape[1]
        logits = low_res[:, :, : self.keep_h, : self.keep_w].reshape(-1, self.keep_h, self.keep_w)
        iou = iou.reshape(-1)
        index = np.flatnonzero(iou > cfg.pred_iou_thresh)
        stability = np.zeros(len(index))
        boxes = np.zeros((len(index), 4))
        nonempty = np.zeros(len(index), dtype=bool)
        for i, k in enumerate(index):
            stability[i], boxes[i], nonempty[i] = self._mask_stats(logits[k])
        keep = (stability >= cfg.stability_score_thresh) & nonempty
        index = index[keep]
        high = (logits[index, : self.low_h, : self.low_w] > cfg.high_score_thresh).any(0)
        self.candidates.add(
            logits=np.ascontiguousarray(logits[index]),
            iou=iou[index],
            stability=stability[keep],
            points=np.repeat(points, per_point, axis=0)[index],
            boxes=self._pixel_boxes(boxes[keep]),
            stage=np.full(len(index), stage),
        )
        return high

    def _mask_stats(self, logits: np.ndarray) -> tuple[float, np.ndarray, bool]:
        """Stability score, inclusive XYXY box and non-emptiness of one mask's logits upscaled to
        the resized frame, computed only where they can be above ``t - offset``.

        Bilinear upscaling (x4, ``align_corners=False``) is a convex combination of the 2 x 2
        nearest low-res cells, so a pixel whose cells are all at most ``t - offset`` counts in
        neither stability count nor the mask. The cells above it, with a margin of two cells, are
        upscaled alone; dropping the two output pixels next to a window edge that is not the
        frame's edge (where the window's clamped border differs from its neighbours), the rest
        equals the full upscale value for value.
        """
        cfg = self.config
        outer = logits > contract.MASK_THRESHOLD - cfg.stability_score_offset
        rows, cols = np.flatnonzero(outer.any(1)), np.flatnonzero(outer.any(0))
        if rows.size == 0:
            return 0.0, np.zeros(4), False
        r0, c0 = max(int(rows[0]) - 2, 0), max(int(cols[0]) - 2, 0)
        r1, c1 = min(int(rows[-1]) + 3, logits.shape[0]), min(int(cols[-1]) + 3, logits.shape[1])
        window = torch.from_numpy(np.ascontiguousarray(logits[None, None, r0:r1, c0:c1]))
        frame = F.interpolate(window, scale_factor=LOW_RES_STRIDE, mode="bilinear", align_corners=False)[0, 0]
        # output rows / columns kept: exact ones inside the resized image
        y0 = LOW_RES_STRIDE * r0 + (2 if r0 > 0 else 0)
        x0 = LOW_RES_STRIDE * c0 + (2 if c0 > 0 else 0)
        y1 = min(LOW_RES_STRIDE * r1 - (2 if r1 < contract.LOW_RES_SIZE else 0), self.input_size[0])
        x1 = min(LOW_RES_STRIDE * c1 - (2 if c1 < contract.LOW_RES_SIZE else 0), self.input_size[1])
        frame = frame[
            y0 - LOW_RES_STRIDE * r0 : y1 - LOW_RES_STRIDE * r0,
            x0 - LOW_RES_STRIDE * c0 : x1 - LOW_RES_STRIDE * c0,
        ]
        frame = frame.numpy()[None]
        stability = float(
            mask_ops.stability_scores(frame, contract.MASK_THRESHOLD, cfg.stability_score_offset)[0]
        )
        binary = frame > contract.MASK_THRESHOLD
        box = mask_ops.masks_to_boxes(binary)[0] + np.array([x0, y0, x0, y0])
        return stability, box, bool(binary.any())

    def _canvas(self, logits: np.ndarray) -> torch.Tensor:
        """Cropped low-res logits ``K x kh x kw`` back in the decoder's ``K x 1 x 256 x 256`` frame.

        The rows / columns beyond the crop never reach a pixel of the image, so zeros are exact.
        """
        size = contract.LOW_RES_SIZE
        canvas = np.zeros((len(logits), 1, size, size), dtype=np.float32)
        canvas[:, 0, : self.keep_h, : self.keep_w] = logits
        return torch.from_numpy(canvas)

    def _pixel_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Inclusive XYXY boxes in the resized image -> XYXY pixel edges in the original (for NMS)."""
        height, width = self.original_size
        scale = np.array([width / self.input_size[1], height / self.input_size[0]] * 2)
        return (boxes + np.array([0, 0, 1, 1])) * scale

    def select(self) -> np.ndarray:
        """Indices of the candidates kept by box NMS (earlier stage first, then predicted IoU)."""
        if not self.candidates.iou:
            return np.zeros(0, dtype=np.int64)
        order = np.lexsort((-self.candidates.joined("iou"), self.candidates.joined("stage")))
        return mask_ops.nms(self.candidates.joined("boxes"), order, self.config.box_nms_thresh)

    def full_masks(self, index: np.ndarray) -> Iterator[np.ndarray]:
        """Upscale the selected candidates to the original size, one at a time, as bool masks
        (lazily: only one full-size mask exists at a time unless the caller keeps them)."""
        logits = self.candidates.joined("logits") if len(index) else None
        for i in index:
            canvas = self._canvas(logits[i : i + 1])
            full = transforms.upscale_logits(canvas, self.input_size, self.original_size)
            yield full[0, 0].numpy() > contract.MASK_THRESHOLD


# SAM's crop options: accepted at their defaults (no crops), refused otherwise.
_SAM_CROP_DEFAULTS = {
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "point_grids": None,
}


class AutoMaskGenerator:
    """Automatic mask generation over a :class:`Predictor` (any runtime); stateless between calls.

    Takes SAM's ``SamAutomaticMaskGenerator`` arguments (``points_per_side``, ``points_per_batch``,
    ``pred_iou_thresh``, ``stability_score_thresh``, ``stability_score_offset``,
    ``box_nms_thresh``, ``min_mask_region_area``, ``output_mode``) or an :class:`EverythingConfig`,
    plus ``strategy`` (TinySAM's ``hierarchical`` by default, or SAM's ``grid``).
    """

    def __init__(
        self,
        model: Sam | Runtime | Predictor,
        config: EverythingConfig | None = None,
        strategy: str = "hierarchical",
        output_mode: str = "binary_mask",
        **options: object,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {output_mode!r}")
        for name, default in _SAM_CROP_DEFAULTS.items():
            if name in options and options.pop(name) != default:
                raise ValueError(
                    f"{name}: crops are not supported (TinySAM's generators run on the whole image)"
                )
        if config is not None and options:
            raise ValueError(f"give either config or keyword options, not both: {sorted(options)}")
        fields = set(vars(EverythingConfig()))
        unknown = sorted(set(options) - fields)
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; known: {sorted(fields | set(_SAM_CROP_DEFAULTS))}")
        self.predictor = model if isinstance(model, Predictor) else Predictor(model)
        self.config = config or EverythingConfig(**options)  # type: ignore[arg-type]
        self.strategy = strategy
        self.output_mode = output_mode

    def generate(self, image: np.ndarray | Image.Image, progress: Progress | None = None) -> EverythingResult:
        """All masks of ``image``: a list of SAM-style records (see :meth:`_records`) that also
        carries the counters (:class:`EverythingResult`)."""
        self.predictor.set_image(image)
        run = _ImageRun(self.predictor, self.config, progress)
        dense = run.pixel_points(self.config.points_per_side)
        skipped = 0
        if self.strategy == "grid":
            run.points_total = len(dense)
            run.decode(dense, stage=1)
        else:
            sparse = run.pixel_points(self.config.sparse_points_per_side)
            run.points_total = len(sparse) + len(dense)
            high = run.decode(sparse, stage=1)
            outside = ~high[low_res_cells(dense, run.original_size)]
            skipped = int((~outside).sum())
            run.points_total -= skipped
            run.decode(dense[outside], stage=2)
        masks = self._records(run)
        return EverythingResult(masks, self.strategy, run.points_decoded, run.decode_calls, skipped)

    def _records(self, run: _ImageRun) -> list[dict]:
        """Records with ``segmentation``, ``area``, ``bbox`` (XYWH pixel extent), ``predicted_iou``,
        ``point_coords``, ``stability_score`` and ``stage`` (1, or 2 for the hierarchical dense round).
        """
        index = run.select()
        masks: Iterable[np.ndarray] = run.full_masks(index)
        if self.config.min_mask_region_area > 0:
            masks, index = _remove_small_regions(list(masks), index, self.config)
        cand = run.candidates
        iou, stability, points, stage = (cand.joined(n) for n in ("iou", "stability", "points", "stage"))
        records = []
        for mask, i in zip(masks, index, strict=True):
            x0, y0, x1, y1 = mask_ops.masks_to_boxes(mask[None])[0]
            records.append(
                {
                    "segmentation": rle.encode(mask) if self.output_mode == "coco_rle" else mask,
                    "area": int(mask.sum()),
                    "bbox": [int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)],
                    "predicted_iou": float(iou[i]),
                    "point_coords": [[float(points[i, 0]), float(points[i, 1])]],
                    "stability_score": float(stability[i]),
                    "stage": int(stage[i]),
                }
            )
        return records


def _remove_small_regions(
    masks: list[np.ndarray], index: np.ndarray, config: EverythingConfig
) -> tuple[list[np.ndarray], np.ndarray]:
    """SAM's post-processing: drop small islands, fill small holes, NMS preferring untouched masks."""
    cleaned, untouched = [], []
    for mask in masks:
        mask, holes_changed = mask_ops.remove_small_regions(mask, config.min_mask_region_area, "holes")
        mask, islands_changed = mask_ops.remove_small_regions(mask, config.min_mask_region_area, "islands")
        cleaned.append(mask)
        untouched.append(not (holes_changed or islands_changed))
    nonempty = [i for i, m in enumerate(cleaned) if m.any()]
    if not nonempty:
        return [], index[:0]
    boxes = mask_ops.masks_to_boxes(np.stack([cleaned[i] for i in nonempty])).astype(np.float64)
    order = np.lexsort((np.arange(len(nonempty)), ~np.array([untouched[i] for i in nonempty])))
    kept = sorted(mask_ops.nms(boxes, order, config.box_nms_thresh))
    return [cleaned[nonempty[k]] for k in kept], index[[nonempty[k] for k in kept]]


SamAutomaticMaskGenerator = AutoMaskGenerator  # segment-anything's name
