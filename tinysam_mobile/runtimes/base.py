"""The interface every runtime implements, so ``Predictor`` and the parity suite can use any, and
the one encode / decode loop every program runtime shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from ..contract import (
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    LOW_RES_SIZE,
    PROGRAMS,
)
from ..prompts import PromptBatch

Feed = dict[str, np.ndarray]
Shapes = dict[str, tuple[int, ...]]


class Runtime(Protocol):
    """Executes the TinySAM encoder and decoder.

    ``max_points``: the fixed slot count of the decoder program (prompts are padded to it with
    unused slots, label -2), or ``None`` when any count is accepted.
    """

    name: str
    max_points: int | None

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Normalized, padded ``1 x 3 x 1024 x 1024`` float32 -> embeddings ``1 x 256 x 64 x 64``."""
        ...

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings + ``B`` prompts -> ``(low-res logits B x 3 x 256 x 256, IoU B x 3)``."""
        ...


def decoder_feeds(
    embeddings: np.ndarray, prompts: PromptBatch, max_points: int, batch: int = 1
) -> Iterator[Feed]:
    """The decoder calls (inputs by contract name) for ``prompts`` on a program of ``max_points``
    slots that takes up to ``batch`` prompts per call."""
    prompts = prompts.padded_to(max_points)
    emb = np.ascontiguousarray(embeddings, np.float32)
    mask = prompts.mask_input
    if mask is None:
        mask = np.zeros((prompts.batch, 1, LOW_RES_SIZE, LOW_RES_SIZE), np.float32)
    has_mask = np.full(prompts.batch, 0.0 if prompts.mask_input is None else 1.0, np.float32)
    for start in range(0, prompts.batch, batch):
        rows = slice(start, start + batch)
        values = (emb, prompts.coords[rows], prompts.labels[rows], mask[rows], has_mask[rows])
        feed = {n: np.ascontiguousarray(v, np.float32) for n, v in zip(DECODER_INPUTS, values, strict=True)}
        yield feed


class ProgramRuntime:
    """A bundle's encoder and decoder programs behind :class:`Runtime`.

    Subclasses load their two programs and implement :meth:`run` (one call of one program, inputs
    and outputs by contract name); prompts go to the decoder up to ``decoder_batch`` at a time.
    """

    name = "program"

    def __init__(self, max_points: int, decoder_batch: int = 1) -> None:
        self.max_points = max_points
        self.decoder_batch = decoder_batch

    def run(self, program: str, feed: Feed) -> Feed:
        """Run ``program`` (``"encoder"`` or ``"decoder"``) once."""
        raise NotImplementedError

    def io_shapes(self, program: str) -> tuple[Shapes, Shapes] | None:
        """The real ``(inputs, outputs)`` shapes of ``program`` by contract name, as the program
        declares them (a dynamic axis at its largest size, or -1); ``None`` when the runtime cannot
        tell (then only the names are checked, by the runtime's loader)."""
        return None

    def program_io(self) -> dict[str, tuple[Shapes, Shapes]] | None:
        """:meth:`io_shapes` of both programs, or ``None`` when the runtime cannot tell."""
        shapes = {program: self.io_shapes(program) for program in PROGRAMS}
        return None if None in shapes.values() else shapes  # type: ignore[return-value]

    def encode(self, image: np.ndarray) -> np.ndarray:
        out = self.run("encoder", {ENCODER_INPUTS[0]: np.ascontiguousarray(image, np.float32)})
        return np.asarray(out[ENCODER_OUTPUTS[0]], np.float32)

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        logits, ious = [], []
        for feed in decoder_feeds(embeddings, prompts, self.max_points, self.decoder_batch):
            out = self.run("decoder", feed)
            logits.append(np.asarray(out[DECODER_OUTPUTS[0]], np.float32))
            ious.append(np.asarray(out[DECODER_OUTPUTS[1]], np.float32))
        return np.concatenate(logits), np.concatenate(ious)
