"""The one prompt validator of the commands and ``Predictor``: a user's points, labels, box and
mask input, in original-image pixels, checked before anything is encoded or decoded.

Rules (the app cores' packers apply the same ones; ``scripts/make_golden.py`` pins them):

* coordinates and box values are finite numbers; labels are exactly 1 (foreground) or 0
  (background); a box is XYXY with ``X0 < X1`` and ``Y0 < Y1`` (positive area);
* a coordinate that overflows float32 once scaled to the model's 1024 frame is refused;
* points and boxes outside the image are accepted (SAM accepts them) with a warning;
* a prompt needs points, a box or a mask input; ``mask_input`` is ``1 x 256 x 256`` finite logits;
* on a program of ``N`` slots the prompt must fit: its points, then the two box corners or, with
  no box, the official not-a-point token (:func:`tinysam_mobile.prompts.slots_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import contract, transforms
from .prompts import budget_message, slots_for

FLOAT32_MAX = float(np.finfo(np.float32).max)


class PromptError(ValueError):
    """A prompt the model cannot answer meaningfully; the message says which value and why."""


class PromptWarning(UserWarning):
    """A prompt that is answered but probably not what was meant (e.g. a point off the image)."""


@dataclass(frozen=True)
class CheckedPrompt:
    """A validated prompt: ``points`` ``K x 2`` float64 (or None), ``labels`` ``K`` float32,
    ``box`` ``4`` float64, ``mask_input`` ``1 x 256 x 256`` float32, all in original pixels, and
    the warnings to show."""

    points: np.ndarray | None
    labels: np.ndarray | None
    box: np.ndarray | None
    mask_input: np.ndarray | None
    warnings: tuple[str, ...] = ()

    @property
    def slots(self) -> int:
        return slots_for(0 if self.points is None else len(self.points), self.box is not None)


def check_prompt(
    point_coords: object = None,
    point_labels: object = None,
    box: object = None,
    mask_input: object = None,
    *,
    image_size: tuple[int, int],
    max_points: int | None = None,
) -> CheckedPrompt:
    """Validate one prompt for an image of ``image_size`` ``(H, W)`` and, when given, a program
    of ``max_points`` slots; :class:`PromptError` names the first problem."""
    notes: list[str] = []
    points, labels = _points(point_coords, point_labels)
    boxes = _box(box)
    mask = _mask(mask_input)
    if points is None and boxes is None and mask is None:
        raise PromptError("a prompt needs points (with labels), a box or a mask_input")
    height, width = image_size
    if points is not None:
        _fits_float32(points, image_size, "point")
        outside = points[
            (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
        ]
        notes += [f"point ({x:g}, {y:g}) is outside the {width}x{height} image" for x, y in outside]
    if boxes is not None:
        _fits_float32(boxes.reshape(2, 2), image_size, "box")
        if boxes[0] < 0 or boxes[1] < 0 or boxes[2] > width or boxes[3] > height:
            notes.append(f"box {_fmt(boxes)} extends outside the {width}x{height} image")
    checked = CheckedPrompt(points, labels, boxes, mask, tuple(f"{n} (SAM accepts it)" for n in notes))
    if max_points is not None:
        check_budget(checked, max_points)
    return checked


def check_budget(prompt: CheckedPrompt, max_points: int) -> None:
    """:class:`PromptError` when ``prompt`` takes more slots than a program of ``max_points``."""
    if prompt.slots <= max_points:
        return
    count = 0 if prompt.points is None else len(prompt.points)
    if prompt.box is not None:
        detail, room = f"{count} points + 2 box corners", max_points - 2
    else:
        detail, room = (
            f"{count} points + the official not-a-point token, added when there is no box",
            max_points - 1,
        )
    with_box = " with a box" if prompt.box is not None else ""
    advice = (
        f"give at most {room} points{with_box}, or rebuild the bundle with "
        f"--max-points {prompt.slots} or more"
    )
    raise PromptError(budget_message(prompt.slots, max_points, detail, advice))


def _points(point_coords: object, point_labels: object) -> tuple[np.ndarray | None, np.ndarray | None]:
    if (point_coords is None) != (point_labels is None):
        raise PromptError("point_coords and point_labels must be given together")
    if point_coords is None:
        return None, None
    coords = _numbers(point_coords, "point_coords")
    labels = _numbers(point_labels, "point_labels").reshape(-1)
    if coords.size == 0 and labels.size == 0:
        return None, None
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise PromptError(f"point_coords must be K x 2 (X, Y), got shape {coords.shape}")
    if labels.shape[0] != coords.shape[0]:
        raise PromptError(f"{coords.shape[0]} points but {labels.shape[0]} labels")
    if not np.isfinite(coords).all():
        raise PromptError(f"point_coords must be finite, got {_fmt(coords[~np.isfinite(coords).all(1)][0])}")
    if not np.isin(labels, (0, 1)).all():
        bad = labels[~np.isin(labels, (0, 1))]
        raise PromptError(f"point_labels must be 1 (foreground) or 0 (background), got {_fmt(bad)}")
    return coords, labels.astype(np.float32)


def _box(box: object) -> np.ndarray | None:
    if box is None:
        return None
    values = _numbers(box, "box").reshape(-1)
    if values.shape != (4,):
        raise PromptError(f"box must be 4 values XYXY, got {values.size}")
    if not np.isfinite(values).all():
        raise PromptError(f"box must be finite, got {_fmt(values)}")
    if not (values[0] < values[2] and values[1] < values[3]):
        raise PromptError(f"box must have X0 < X1 and Y0 < Y1 (a positive area), got {_fmt(values)}")
    return values


def _mask(mask_input: object) -> np.ndarray | None:
    if mask_input is None:
        return None
    mask = _numbers(mask_input, "mask_input").astype(np.float32)
    size = contract.LOW_RES_SIZE
    if mask.shape != (1, size, size):
        raise PromptError(f"mask_input must be 1 x {size} x {size} logits, got {mask.shape}")
    if not np.isfinite(mask).all():
        raise PromptError("mask_input must be finite logits; it holds NaN or infinite values")
    return mask


def _numbers(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise PromptError(f"{name} must be numbers, got {values!r:.80}") from None
    return array


def _fits_float32(xy: np.ndarray, image_size: tuple[int, int], what: str) -> None:
    """Coordinates must stay finite in float32 after scaling to the 1024 frame."""
    frame = transforms.transform_coords(xy, image_size)
    too_big = np.abs(frame) > FLOAT32_MAX
    if too_big.any():
        x, y = xy[too_big.any(1)][0]
        raise PromptError(f"{what} ({x:g}, {y:g}) overflows float32 in the model's 1024 frame")


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:g}" for v in np.ravel(values)) + "]"
