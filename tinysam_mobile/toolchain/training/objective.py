"""The training objective as one ``nn.Module`` (what DistributedDataParallel wraps).

``forward(batch)`` encodes the images once at the batch's size, then decodes the prompts for
``1 + batch.rounds`` rounds, supervised at the decoder's own low-res size (targets downsampled,
:func:`~.losses.downsample_targets`; ``low_res_loss=False``: logits upscaled to the input size).
Each later round adds a correction click sampled from the error of
the previous round's chosen mask (highest predicted IoU, as a user would see it) and feeds that
mask's low-res logits back as ``mask_input`` (detached, as in SAM). Every round is supervised
(mean over rounds). With a teacher, TinySAM's full-stage distillation is added: L1 on image
embeddings, on the decoder's output tokens and, weighted per output by the hard-mask weight, on
the low-res mask logits; correction clicks are then false negatives only (hard prompt sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...modeling import Sam
from .data import Batch
from .losses import downsample_targets, hard_mask_weights, mask_iou, sam_losses, weighted_output_l1
from .models import SharedResolutions, capture_decoder_tokens, freeze_unused, set_training_mode
from .prompts import correction_points


@dataclass(frozen=True)
class DistillWeights:
    """alpha (embeddings), beta (decoder tokens), gamma (hard-weighted mask outputs)."""

    embedding: float = 1.0
    tokens: float = 1.0
    output: float = 1.0


class SamObjective(nn.Module):
    """Loss of ``model`` on a :class:`Batch`; parameters are the full model's only.

    ``forward`` returns a dict of scalar tensors: ``loss`` (what to minimise), ``mask``, ``iou``,
    ``best_iou`` (mean IoU of the best of the three masks, a metric without gradient) and, when
    distilling, ``embedding``, ``tokens``, ``output``.
    """

    def __init__(
        self,
        model: Sam,
        teacher: Sam | None = None,
        weights: DistillWeights | None = None,
        mask_loss: str = "bce",
        low_res_loss: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.mask_loss = mask_loss
        self.low_res_loss = low_res_loss
        freeze_unused(model)
        self.views = SharedResolutions(model)
        # Not a submodule: no gradients, not in state_dict(), not touched by DDP.
        self._teacher = SharedResolutions(teacher.eval().requires_grad_(False)) if teacher else None
        self.weights = weights or DistillWeights()

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        student = self.views.at(batch.size)
        set_training_mode(student)
        teacher = self._teacher.at(batch.size).eval() if self._teacher else None
        prompts = batch.prompts
        embeddings = student.encode(batch.images)
        totals: dict[str, torch.Tensor] = {}
        if teacher is not None:
            with torch.no_grad():
                teacher_embeddings = teacher.encode(batch.images)
            totals["embedding"] = F.l1_loss(embeddings, teacher_embeddings)
        per_prompt = embeddings[prompts.image_index]
        mask_input = None
        rounds = 1 + batch.rounds
        targets = prompts.targets
        for r in range(rounds):
            coords, labels = prompts.packed()
            with capture_decoder_tokens(student) as tokens:
                low_res, iou = student.decode(per_prompt, coords, labels, mask_input)
            if self.low_res_loss:
                if targets.shape[-1] != low_res.shape[-1]:
                    targets = downsample_targets(prompts.targets, low_res.shape[-1])
                losses = sam_losses(low_res, iou, targets, self.mask_loss)
            else:
                logits = F.interpolate(low_res, batch.size, mode="bilinear", align_corners=False)
                losses = sam_losses(logits, iou, prompts.targets, self.mask_loss)
            terms = {
                "mask": losses.mask,
                "iou": losses.iou,
                "best_iou": losses.actual_iou.max(1).values.mean(),
            }
            if teacher is not None:
                with torch.no_grad(), capture_decoder_tokens(teacher) as teacher_tokens:
                    t_low, _ = teacher.decode(
                        teacher_embeddings[prompts.image_index], coords, labels, mask_input
                    )
                    if self.low_res_loss:
                        t_iou = mask_iou(t_low > 0, targets)
                    else:
                        t_logits = F.interpolate(t_low, batch.size, mode="bilinear", align_corners=False)
                        t_iou = mask_iou(t_logits > 0, prompts.targets)
                terms["tokens"] = F.l1_loss(tokens[0], teacher_tokens[0])
                terms["output"] = weighted_output_l1(
                    low_res, t_low, hard_mask_weights(t_iou, losses.actual_iou)
                )
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value / rounds
            if r + 1 < rounds:
                chosen = iou.detach().argmax(1)
                rows = torch.arange(len(chosen))
                picked = low_res.detach()[rows, chosen][:, None]
                predicted = F.interpolate(picked, batch.size, mode="bilinear", align_corners=False)[:, 0] > 0
                click, click_label = correction_points(
                    predicted, prompts.targets, batch.generator, negatives=teacher is None
                )
                prompts = prompts.with_point(click, click_label)
                mask_input = picked
        w = self.weights
        loss = totals["mask"] + totals["iou"]
        if teacher is not None:
            loss = (
                loss
                + w.embedding * totals["embedding"]
                + w.tokens * totals["tokens"]
                + w.output * totals["output"]
            )
        return {"loss": loss, **totals}
