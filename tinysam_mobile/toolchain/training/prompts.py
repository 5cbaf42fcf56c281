"""Prompts sampled from ground-truth masks, SAM's recipe, in torch with an explicit generator.

Coordinates are (X, Y) pixel indices in the model's input frame (the prompt encoder adds the 0.5
pixel-centre shift), labels follow :mod:`tinysam_mobile.prompts` (1 foreground, 0 background).

* one point: an instance is picked uniformly, a pixel uniformly inside it; the target is then the
  outermost instance containing that pixel (the whole) with probability :data:`WHOLE_PRIOR`,
  otherwise a uniformly chosen deeper level (part, sub-part). The single-point prompt is thus
  ambiguous exactly where the scene is nested; the min-over-three mask loss lets the three outputs
  specialise, and the IoU head learns to rank the whole first.
* several points: ``n_pos`` uniform inside the target, ``n_neg`` uniform outside it within its
  box grown 2x (or anywhere outside when that is empty), never in the padding.
* box: the target's box with Gaussian noise of 10% of each side, clipped to 20 px at 1024.
* correction points: uniform in the error region of the previous prediction, labelled positive
  in false negatives and negative in false positives (``negatives=False``: false negatives only,
  TinySAM's hard prompt sampling).

All prompts of one batch share a structure (kind and point count), so they stack into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...contract import LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_NOT_A_POINT

WHOLE_PRIOR = 0.6
BOX_NOISE = 0.1
BOX_NOISE_MAX = 20 / 1024  # of the input size


@dataclass(frozen=True)
class PromptStructure:
    """What every prompt of a batch holds: ``kind`` ``point``/``points``/``box`` and point counts."""

    kind: str
    n_pos: int = 1
    n_neg: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("point", "points", "box"):
            raise ValueError(f"unknown prompt kind {self.kind!r}")


@dataclass
class Prompts:
    """``N`` prompts: points ``N x K x 2`` / labels ``N x K``, optional boxes ``N x 4`` (XYXY),
    ground truth ``targets`` ``N x S x S`` bool and the image each prompt belongs to (``N``)."""

    points: torch.Tensor
    point_labels: torch.Tensor
    boxes: torch.Tensor | None
    targets: torch.Tensor
    image_index: torch.Tensor

    def packed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder inputs as the official predictor packs them: points, then a padding point when
        there is no box, else the two box corners. Returns ``(N x T x 2, N x T)`` float32."""
        n, device = self.points.shape[0], self.points.device
        if self.boxes is None:
            extra = torch.zeros(n, 1, 2, device=device)
            extra_labels = torch.full((n, 1), float(LABEL_NOT_A_POINT), device=device)
        else:
            extra = self.boxes.view(n, 2, 2)
            corners = torch.tensor(
                [LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], dtype=torch.float32, device=device
            )
            extra_labels = corners.expand(n, 2)
        return torch.cat([self.points, extra], 1), torch.cat([self.point_labels, extra_labels], 1)

    def to(self, device: torch.device) -> Prompts:
        """The same prompts on ``device``."""
        boxes = None if self.boxes is None else self.boxes.to(device)
        return Prompts(
            self.points.to(device),
            self.point_labels.to(device),
            boxes,
            self.targets.to(device),
            self.image_index.to(device),
        )

    def with_point(self, coords: torch.Tensor, labels: torch.Tensor) -> Prompts:
        """The same prompts with one more point each (``N x 2``, ``N``)."""
        return Prompts(
            torch.cat([self.points, coords[:, None]], 1),
            torch.cat([self.point_labels, labels[:, None]], 1),
            self.boxes,
            self.targets,
            self.image_index,
        )


def sample_pixels(masks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One pixel drawn uniformly inside each non-empty mask of ``N x H x W`` bool: ``N x 2``
    float (X, Y) on the masks' device. The draw (max of uniform noise over the mask) runs on the
    CPU, where ``gen`` lives."""
    n, _, w = masks.shape
    flat = masks.reshape(n, -1).cpu()
    noise = torch.rand(flat.shape, generator=gen)
    idx = torch.where(flat, noise, -1.0).argmax(1)
    return torch.stack([idx % w, idx // w], 1).float().to(masks.device)


def _uniform(n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen)


def sample_prompts(
    masks: list[torch.Tensor],
    valid: list[tuple[int, int]],
    structure: PromptStructure,
    per_image: int,
    gen: torch.Generator,
) -> Prompts:
    """``per_image`` prompts for each image.

    ``masks[i]`` is ``K_i x S x S`` bool (instances of image ``i`` with a usable area, ``K_i >= 1``);
    ``valid[i]`` the (height, width) of its real content (the rest is padding).
    """
    all_points, all_labels, all_boxes, all_targets, index = [], [], [], [], []
    for i, inst in enumerate(masks):
        k = inst.shape[0]
        picks = torch.randint(k, (per_image,), generator=gen)
        if structure.kind == "point":
            points = sample_pixels(inst[picks], gen)
            targets = _pick_level(inst, points, gen)
            labels = torch.ones(per_image, 1)
            points = points[:, None]
        else:
            targets = inst[picks]
            points, labels = _points_for(targets, valid[i], structure, gen)
        all_points.append(points)
        all_labels.append(labels)
        all_targets.append(targets)
        if structure.kind == "box":
            all_boxes.append(noisy_boxes(targets, gen))
        index.append(torch.full((per_image,), i, dtype=torch.long))
    return Prompts(
        torch.cat(all_points),
        torch.cat(all_labels),
        torch.cat(all_boxes) if all_boxes else None,
        torch.cat(all_targets),
        torch.cat(index),
    )


def _pick_level(inst: torch.Tensor, points: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """For each point, the mask of one instance containing it: the outermost with probability
    :data:`WHOLE_PRIOR`, else a uniformly chosen deeper one. Returns ``N x S x S`` bool."""
    x, y = points[:, 0].long(), points[:, 1].long()
    containing = inst[:, y, x].T  # N x K: instances under each point (one nested chain)
    areas = inst.flatten(1).sum(1)
    out = []
    for row in containing:
        chain = torch.nonzero(row)[:, 0]
        chain = chain[torch.argsort(areas[chain], descending=True, stable=True)]
        if len(chain) == 1 or float(_uniform(1, gen)) < WHOLE_PRIOR:
            out.append(chain[0])
        else:
            out.append(chain[1 + int(torch.randint(len(chain) - 1, (1,), generator=gen))])
    return inst[torch.stack(out)]


def _points_for(
    targets: torch.Tensor, valid: tuple[int, int], structure: PromptStructure, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive points inside and negative points around each target: ``(N x K x 2, N x K)``."""
    n = targets.shape[0]
    if structure.kind == "box":
        return torch.zeros(n, 0, 2), torch.zeros(n, 0)
    pos = [sample_pixels(targets, gen) for _ in range(structure.n_pos)]
    neg = []
    if structure.n_neg:
        outside = ~targets
        outside[:, valid[0] :] = False
        outside[:, :, valid[1] :] = False
        near = outside & grown_box_masks(targets, 2.0)
        empty = near.flatten(1).sum(1) == 0
        near[empty] = outside[empty]
        neg = [sample_pixels(near, gen) for _ in range(structure.n_neg)]
    points = torch.stack(pos + neg, 1)
    labels = torch.cat([torch.ones(n, structure.n_pos), torch.zeros(n, structure.n_neg)], 1)
    return points, labels


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """XYXY pixel extents of non-empty masks ``N x H x W`` -> ``N x 4`` float."""
    cols, rows = masks.any(1), masks.any(2)
    w, h = masks.shape[2], masks.shape[1]
    x0 = torch.argmax(cols.int(), 1)
    x1 = w - 1 - torch.argmax(cols.flip(1).int(), 1)
    y0 = torch.argmax(rows.int(), 1)
    y1 = h - 1 - torch.argmax(rows.flip(1).int(), 1)
    return torch.stack([x0, y0, x1, y1], 1).float()


def grown_box_masks(masks: torch.Tensor, factor: float) -> torch.Tensor:
    """Each mask's box scaled by ``factor`` about its centre, as ``N x H x W`` bool."""
    boxes = mask_boxes(masks)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2] + 1) * factor / 2
    lo, hi = centre - half, centre + half
    h, w = masks.shape[1:]
    xs, ys = torch.arange(w).float(), torch.arange(h).float()
    in_x = (xs[None] >= lo[:, :1]) & (xs[None] <= hi[:, :1])
    in_y = (ys[None] >= lo[:, 1:]) & (ys[None] <= hi[:, 1:])
    return in_y[:, :, None] & in_x[:, None, :]


def noisy_boxes(masks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """SAM's box prompts: the mask box, each coordinate moved by N(0, 10% of the side), at most
    20 px at 1024 (scaled to the input size): ``N x 4`` XYXY."""
    boxes = mask_boxes(masks)
    size = boxes[:, 2:] - boxes[:, :2] + 1
    sigma = torch.cat([size, size], 1) * BOX_NOISE
    limit = BOX_NOISE_MAX * masks.shape[-1]
    noise = (torch.randn(boxes.shape, generator=gen) * sigma).clamp(-limit, limit)
    boxes = boxes + noise
    top_left = torch.minimum(boxes[:, :2], boxes[:, 2:])
    bottom_right = torch.maximum(boxes[:, :2], boxes[:, 2:])
    return torch.cat([top_left, bottom_right], 1).clamp(0, masks.shape[-1] - 1)


def correction_points(
    predicted: torch.Tensor, targets: torch.Tensor, gen: torch.Generator, negatives: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """One corrective click per prompt from the error region of ``predicted`` vs ``targets``
    (both ``N x S x S`` bool): ``(N x 2 coords, N labels)``. Rows without an error (or without
    false negatives when ``negatives`` is False) get a positive point inside the target."""
    false_neg = targets & ~predicted
    region = (false_neg | (predicted & ~targets)) if negatives else false_neg
    empty = region.flatten(1).sum(1) == 0
    region[empty] = targets[empty]
    coords = sample_pixels(region, gen)
    x, y = coords[:, 0].long(), coords[:, 1].long()
    labels = targets[torch.arange(targets.shape[0]), y, x].float()
    return coords, labels
