"""Training losses: SAM's mask and IoU losses, TinySAM's full-stage distillation terms.

Shapes: ``logits`` ``N x M x S x S`` (M mask outputs at the ground truth's size: the low-res
logits against :func:`downsample_targets`, or logits upscaled to the input size), ``targets``
``N x S x S`` bool, IoU tensors ``N x M``.

The mask term is ``"bce"`` (binary cross-entropy + dice, the default) or ``"focal"`` (SAM's focal
x 20 + dice).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

FOCAL_WEIGHT = 20.0
DICE_WEIGHT = 1.0
FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0
HARD_EPS = 1e-3
MASK_LOSSES = ("bce", "focal")


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Focal loss (alpha 0.25, gamma 2) averaged over pixels: ``N x M``."""
    t = targets[:, None].expand_as(logits).float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** FOCAL_GAMMA
    loss = (FOCAL_ALPHA * t + (1 - FOCAL_ALPHA) * (1 - t)) * loss
    return loss.flatten(2).mean(2)


def bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over pixels: ``N x M``."""
    t = targets[:, None].expand_as(logits).float()
    return F.binary_cross_entropy_with_logits(logits, t, reduction="none").flatten(2).mean(2)


def downsample_targets(targets: torch.Tensor, size: int) -> torch.Tensor:
    """``N x S x S`` bool masks at ``size x size``: a pixel is in when at least half of its area is."""
    return F.interpolate(targets[:, None].float(), size=size, mode="area")[:, 0] >= 0.5


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``1 - (2 |p t| + 1) / (|p| + |t| + 1)`` on sigmoid probabilities: ``N x M``."""
    p = torch.sigmoid(logits).flatten(2)
    t = targets[:, None].float().flatten(2)
    return 1 - (2 * (p * t).sum(2) + 1) / (p.sum(2) + t.sum(2) + 1)


def mask_iou(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of bool masks ``N x M x S x S`` with ``N x S x S`` targets: ``N x M`` (1 when both empty)."""
    t = targets[:, None]
    inter = (predicted & t).flatten(2).sum(2).float()
    union = (predicted | t).flatten(2).sum(2).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@dataclass(frozen=True)
class MaskLosses:
    """Scalars ``mask`` (the mask term of the best output) and ``iou`` (MSE), plus the actual IoU
    of every output (``N x M``, no gradient)."""

    mask: torch.Tensor
    iou: torch.Tensor
    actual_iou: torch.Tensor


def sam_losses(
    logits: torch.Tensor, iou_pred: torch.Tensor, targets: torch.Tensor, kind: str = "bce"
) -> MaskLosses:
    """SAM's supervision: the mask loss (``kind``, see the module docstring) of the output
    closest to the target (min over the M outputs, as for an ambiguous prompt) and the MSE of
    every predicted IoU."""
    if kind == "focal":
        pixel = FOCAL_WEIGHT * sigmoid_focal_loss(logits, targets)
    elif kind == "bce":
        pixel = bce_loss(logits, targets)
    else:
        raise ValueError(f"unknown mask loss {kind!r}; known: {', '.join(MASK_LOSSES)}")
    per_output = pixel + DICE_WEIGHT * dice_loss(logits, targets)
    actual = mask_iou(logits.detach() > 0, targets)
    return MaskLosses(per_output.min(1).values.mean(), F.mse_loss(iou_pred, actual), actual)


def hard_mask_weights(teacher_iou: torch.Tensor, student_iou: torch.Tensor) -> torch.Tensor:
    """TinySAM's ``H_i = sigmoid(IoU(T_i, GT) / (IoU(S_i, GT) + eps) - 1)`` per output (``N x M``)."""
    return torch.sigmoid(teacher_iou / (student_iou + HARD_EPS) - 1)


def weighted_output_l1(student: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i H_i |S_i - T_i|_1`` over the M outputs (pixel mean), averaged over prompts."""
    per_output = (student - teacher).abs().flatten(2).mean(2)
    return (weights * per_output).sum(1).mean()
