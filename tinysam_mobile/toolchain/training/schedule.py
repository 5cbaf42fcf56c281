"""Resolution phases and the learning-rate schedule, both pure functions of the step.

A resolution schedule reads ``SIZE[:FRACTION],...``, e.g. ``256:0.85,512:0.12,1024``: phases in
that order, each ``FRACTION`` of the total steps, the last one (without a fraction) taking the
rest. Images per step, and prompts per image, shrink with the square of the size (their cost
grows with it): ``max(1, round(images * (smallest / size)^2))`` images and
``max(MIN_PROMPTS, round(prompts * (smallest / size)^2))`` prompts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SIZE, MAX_SIZE, SIZE_MULTIPLE = 64, 1024, 16
MIN_PROMPTS = 4


@dataclass(frozen=True)
class Phase:
    """Steps ``[start, end)`` run at input ``size`` with ``images`` images per step and
    ``prompts`` prompts per image."""

    size: int
    start: int
    end: int
    images: int
    prompts: int


def parse_resolutions(text: str) -> list[tuple[int, float | None]]:
    """``"256:0.85,512:0.12,1024"`` -> ``[(256, 0.85), (512, 0.12), (1024, None)]`` (validated:
    every phase but the last has a fraction, the last has none)."""
    out: list[tuple[int, float | None]] = []
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("the resolution schedule is empty")
    for i, item in enumerate(items):
        size_text, _, fraction_text = item.partition(":")
        try:
            size = int(size_text)
            fraction = float(fraction_text) if fraction_text else None
        except ValueError:
            raise ValueError(f"bad resolution phase {item!r}: expected SIZE or SIZE:FRACTION") from None
        if not (MIN_SIZE <= size <= MAX_SIZE and size % SIZE_MULTIPLE == 0):
            raise ValueError(
                f"resolution {size} is not supported: use a multiple of {SIZE_MULTIPLE} "
                f"from {MIN_SIZE} to {MAX_SIZE}"
            )
        last = i == len(items) - 1
        if fraction is None and not last:
            raise ValueError(f"phase {item!r} needs a fraction (only the last phase takes the rest)")
        if fraction is not None and last:
            raise ValueError(
                f"the last phase takes the remaining steps: write {size_text} without a fraction"
            )
        if fraction is not None and not 0 < fraction <= 1:
            raise ValueError(f"fraction of phase {item!r} must be in (0, 1]")
        out.append((size, fraction))
    if sum(f for _, f in out if f is not None) > 1 + 1e-9:
        raise ValueError(f"phase fractions of {text!r} add up to more than 1")
    return out


def plan_phases(
    schedule: list[tuple[int, float | None]], steps: int, images: int, prompts: int
) -> list[Phase]:
    """Phases covering ``steps`` steps; ``images`` and ``prompts`` (per image) are those of the
    smallest size."""
    smallest = min(size for size, _ in schedule)
    phases, start = [], 0
    for i, (size, fraction) in enumerate(schedule):
        end = (
            steps
            if fraction is None or i == len(schedule) - 1
            else min(steps, start + round(fraction * steps))
        )
        if end > start:
            shrink = (smallest / size) ** 2
            phases.append(
                Phase(
                    size,
                    start,
                    end,
                    max(1, round(images * shrink)),
                    min(prompts, max(MIN_PROMPTS, round(prompts * shrink))),
                )
            )
        start = end
    return phases


def phase_at(phases: list[Phase], step: int) -> Phase:
    """The phase that contains ``step``."""
    for phase in phases:
        if phase.start <= step < phase.end:
            return phase
    raise IndexError(f"step {step} is outside the schedule")


def learning_rate(step: int, total: int, base: float, warmup: int, final: float = 0.02) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``final * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return base * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
