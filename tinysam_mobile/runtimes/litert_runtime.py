"""LiteRT runtime: runs ``encoder.tflite`` / ``decoder.tflite`` in ``ai_edge_litert``'s interpreter.

Programs are called through their ``serving_default`` signature with the I/O contract's names
(XNNPACK is the interpreter's default CPU delegate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import PROGRAM_IO
from .base import Feed, ProgramRuntime, Shapes

DEFAULT_THREADS = 2


class LiteRTRuntime(ProgramRuntime):
    """Loads the two programs of a LiteRT bundle (interpreter threads: ``num_threads``, default 2)."""

    name = "litert"

    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        max_points: int,
        num_threads: int | None = None,
        decoder_batch: int = 1,
    ) -> None:
        super().__init__(max_points, decoder_batch)
        threads = num_threads or DEFAULT_THREADS
        self._runners = {
            program: self._load(Path(path), threads, *PROGRAM_IO[program])
            for program, path in (("encoder", encoder), ("decoder", decoder))
        }

    @staticmethod
    def _load(path: Path, threads: int, inputs: tuple[str, ...], outputs: tuple[str, ...]):
        from ai_edge_litert.interpreter import Interpreter

        if not path.is_file():
            raise FileNotFoundError(f"LiteRT program {path} does not exist")
        try:
            runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner()
        except (RuntimeError, ValueError) as exc:
            raise RuntimeError(f"LiteRT could not load {path}: {exc}") from exc
        found = (sorted(runner.get_input_details()), sorted(runner.get_output_details()))
        if found != (sorted(inputs), sorted(outputs)):
            raise RuntimeError(f"{path} has inputs/outputs {found}, expected {inputs} -> {outputs}")
        return runner

    def io_shapes(self, program: str) -> tuple[Shapes, Shapes]:
        runner = self._runners[program]
        return tuple(
            {name: tuple(int(d) for d in detail["shape"]) for name, detail in details.items()}
            for details in (runner.get_input_details(), runner.get_output_details())
        )  # type: ignore[return-value]

    def run(self, program: str, feed: Feed) -> Feed:
        return {name: np.array(value) for name, value in self._runners[program](**feed).items()}
