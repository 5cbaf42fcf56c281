"""ExecuTorch runtime: runs ``encoder.pte`` / ``decoder.pte`` through ``executorch.runtime``."""

from __future__ import annotations

from pathlib import Path

import torch

from ..contract import PROGRAM_IO
from .base import Feed, ProgramRuntime, Shapes


def set_xnnpack_threads(num_threads: int) -> None:
    """Size the XNNPACK thread pool shared by every loaded program (process-wide)."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

    _unsafe_reset_threadpool(num_threads)


class ExecuTorchRuntime(ProgramRuntime):
    """Loads the two programs of an ExecuTorch bundle (XNNPACK threads: ``num_threads``)."""

    name = "executorch"

    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        max_points: int,
        num_threads: int | None = None,
        decoder_batch: int = 1,
    ) -> None:
        from executorch.runtime import Runtime

        super().__init__(max_points, decoder_batch)
        if num_threads is not None:
            set_xnnpack_threads(num_threads)
        runtime = Runtime.get()
        self._methods = {"encoder": self._load(runtime, encoder), "decoder": self._load(runtime, decoder)}

    @staticmethod
    def _load(runtime, path: Path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"ExecuTorch program {path} does not exist")
        try:
            return runtime.load_program(Path(path)).load_method("forward")
        except RuntimeError as exc:
            raise RuntimeError(f"ExecuTorch could not load {path}: {exc}") from exc

    def io_shapes(self, program: str) -> tuple[Shapes, Shapes]:
        meta = self._methods[program].metadata
        inputs, outputs = PROGRAM_IO[program]
        return (
            {
                name: tuple(meta.input_tensor_meta(i).sizes())
                for i, name in enumerate(inputs[: meta.num_inputs()])
            },
            {
                name: tuple(meta.output_tensor_meta(i).sizes())
                for i, name in enumerate(outputs[: meta.num_outputs()])
            },
        )

    def run(self, program: str, feed: Feed) -> Feed:
        inputs, outputs = PROGRAM_IO[program]
        results = self._methods[program].execute([torch.from_numpy(feed[name]) for name in inputs])
        # copies: the program's planned output buffers are reused by its next call
        return {name: t.numpy().copy() for name, t in zip(outputs, results, strict=True)}
