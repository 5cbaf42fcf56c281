"""fp16 safety from data, shared by the targets that compute in fp16 (Core ML, Core AI).

The float32 program runs on calibration photos and prompts while an observer records the running
min / max of every op's output; an op that produces or reads a value within ``FP16_HEADROOM`` of
fp16's largest value must stay float32 (a large value must not be stored in fp16, so its
producer and every consumer keep float32). Each target supplies its interpreter and its graph as
``(op name, input names)`` pairs; the decision is made here once.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

FP16_MAX = 65504.0
FP16_HEADROOM = 16.0  # keep an op in fp32 when its calibration activations exceed FP16_MAX / this
Ranges = dict[str, tuple[float, float]]


class RangeRecorder:
    """An observer ``(name, tensor)`` that keeps the running min / max of floating tensors by name."""

    def __init__(self) -> None:
        self.ranges: Ranges = {}

    def __call__(self, name: str, tensor: torch.Tensor) -> None:
        if tensor.is_floating_point() and tensor.numel() > 0:
            low, high = float(tensor.min()), float(tensor.max())
            old = self.ranges.get(name, (low, high))
            self.ranges[name] = (min(old[0], low), max(old[1], high))


def fp16_unsafe(
    ops: Iterable[tuple[str, Iterable[str]]], ranges: Ranges, headroom: float = FP16_HEADROOM
) -> frozenset[str]:
    """Names of the ops, given as ``(name, input names)``, whose output or any input exceeds
    ``FP16_MAX / headroom`` in magnitude according to ``ranges``."""
    limit = FP16_MAX / headroom
    large = {name for name, (low, high) in ranges.items() if max(-low, high) > limit}
    return frozenset(name for name, inputs in ops if name in large or not large.isdisjoint(inputs))
