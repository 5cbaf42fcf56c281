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
    """An observer ``(name, tensor)`` that keeps the running min / max of floating tensors by name.

    ``aliases`` maps names whose values are exactly another name's (reshapes, transposes) to that
    name: they are not reduced again, :meth:`resolved` copies their source's range.
    """

    def __init__(self, aliases: dict[str, str] | None = None) -> None:
        self.ranges: Ranges = {}
        self.aliases = dict(aliases or {})

    def __call__(self, name: str, tensor: torch.Tensor) -> None:
        if name in self.aliases:
            return
        if tensor.is_floating_point() and tensor.numel() > 0:
            low, high = (float(v) for v in torch.aminmax(tensor))
            old = self.ranges.get(name, (low, high))
            self.ranges[name] = (min(old[0], low), max(old[1], high))

    def resolved(self) -> Ranges:
        """Every recorded range plus the aliases' (an alias of an unrecorded name stays absent)."""
        ranges = dict(self.ranges)
        for name in self.aliases:
            source = name
            while source in self.aliases:
                source = self.aliases[source]
            if source in ranges:
                ranges[name] = ranges[source]
        return ranges


def fp16_unsafe(
    ops: Iterable[tuple[str, Iterable[str]]], ranges: Ranges, headroom: float = FP16_HEADROOM
) -> frozenset[str]:
    """Names of the ops, given as ``(name, input names)``, whose output or any input exceeds
    ``FP16_MAX / headroom`` in magnitude according to ``ranges``."""
    limit = FP16_MAX / headroom
    large = {name for name, (low, high) in ranges.items() if max(-low, high) > limit}
    return frozenset(name for name, inputs in ops if name in large or not large.isdisjoint(inputs))
