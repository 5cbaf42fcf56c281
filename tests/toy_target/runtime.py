"""The toy target's runtime: loads the ``.pt2`` programs with ``torch.export.load``."""

from __future__ import annotations

from pathlib import Path

import torch

from tinysam_mobile.contract import PROGRAM_IO
from tinysam_mobile.runtimes.base import Feed, ProgramRuntime


class ToyRuntime(ProgramRuntime):
    name = "toy"

    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        max_points: int,
        num_threads: int | None = None,
        decoder_batch: int = 1,
    ) -> None:
        super().__init__(max_points, decoder_batch)
        self._programs = {
            "encoder": torch.export.load(encoder).module(),
            "decoder": torch.export.load(decoder).module(),
        }

    def run(self, program: str, feed: Feed) -> Feed:
        inputs, outputs = PROGRAM_IO[program]
        with torch.no_grad():
            result = self._programs[program](*(torch.from_numpy(feed[n]) for n in inputs))
        result = result if isinstance(result, tuple) else (result,)
        return {n: t.numpy() for n, t in zip(outputs, result, strict=True)}
