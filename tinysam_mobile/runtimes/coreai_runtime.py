"""Core AI runtime: runs ``encoder.aimodel`` / ``decoder.aimodel`` in coreai-core's own runtime.

coreai-core's API is asynchronous; this class is synchronous like every runtime here. It owns one
event loop, enters each asset's ``executable()`` on it once, loads each program's ``main``
function once and reuses it for every call; ``close()`` (or the end of a ``with`` block, or
garbage collection) leaves the executables and closes the loop. On Linux the package lowers each
asset to its portable ODIX form in a temporary directory when it loads; on macOS with
``USE_OS_COREAI=1`` it runs the OS's Core AI.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import PROGRAM_IO
from .base import Feed, ProgramRuntime, Shapes

FUNCTION = "main"
_TENSOR_TYPE = re.compile(r"NDArray \((\w+), ([\d × ]+)\)")


def tensor_type(description: str) -> tuple[tuple[int, ...], str]:
    """``'NDArray (Float32, 1 × 3 × 8)'`` -> ``((1, 3, 8), 'float32')``."""
    match = _TENSOR_TYPE.fullmatch(description)
    if match is None:
        raise ValueError(f"unexpected Core AI tensor type {description!r}")
    return tuple(int(d) for d in match[2].split("×")), match[1].lower()


def _shut(loop: asyncio.AbstractEventLoop, stack: contextlib.AsyncExitStack) -> None:
    """Leave the loaded executables, then close the loop (idempotent through ``weakref.finalize``)."""
    try:
        loop.run_until_complete(stack.aclose())
    finally:
        loop.close()


class CoreAIRuntime(ProgramRuntime):
    """Loads the two assets of a Core AI bundle. ``num_threads`` is accepted for the common
    runtime signature and unused (the runtime has no thread setting)."""

    name = "coreai"

    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        max_points: int,
        num_threads: int | None = None,
        decoder_batch: int = 1,
    ) -> None:
        from coreai.runtime import NDArray

        super().__init__(max_points, decoder_batch)
        self._array = NDArray
        self._loop = asyncio.new_event_loop()
        self._stack = contextlib.AsyncExitStack()
        self._finalizer = weakref.finalize(self, _shut, self._loop, self._stack)
        self._shapes: dict[str, tuple[Shapes, Shapes]] = {}
        try:
            self._functions = {
                program: self._load(program, Path(path), *PROGRAM_IO[program])
                for program, path in (("encoder", encoder), ("decoder", decoder))
            }
        except BaseException:
            self.close()
            raise

    def _load(self, program: str, path: Path, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Any:
        from coreai.authoring import AIModelAsset

        if not path.exists():
            raise FileNotFoundError(f"Core AI asset {path} does not exist")
        try:
            asset = AIModelAsset.load(path)
            summary = asset.summary(include_statistics=False) if AIModelAsset.is_valid(path) else None
        except RuntimeError as exc:
            raise RuntimeError(f"Core AI could not load {path}: {exc}") from exc
        # checked before lowering: the lowering aborts the process on a program it cannot read
        if summary is None or FUNCTION not in summary.function_names:
            raise RuntimeError(f"Core AI could not load {path}: no readable program with {FUNCTION}()")
        found = tuple(
            tuple(name for name, _ in described(FUNCTION))
            for described in (summary.function_inputs, summary.function_outputs)
        )
        if (sorted(found[0]), sorted(found[1])) != (sorted(inputs), sorted(outputs)):
            raise RuntimeError(f"{path} has inputs/outputs {found}, expected {inputs} -> {outputs}")
        try:
            self._shapes[program] = tuple(  # type: ignore[assignment]
                {name: tensor_type(kind)[0] for name, kind in described(FUNCTION)}
                for described in (summary.function_inputs, summary.function_outputs)
            )
        except ValueError as exc:
            raise RuntimeError(f"Core AI could not read the I/O of {path}: {exc}") from exc
        try:
            model = self._loop.run_until_complete(self._stack.enter_async_context(asset.executable()))
            return model.load_function(FUNCTION)
        except (RuntimeError, KeyError) as exc:
            raise RuntimeError(f"Core AI could not load {path}: {exc}") from exc

    def io_shapes(self, program: str) -> tuple[Shapes, Shapes] | None:
        return self._shapes.get(program)

    def run(self, program: str, feed: Feed) -> Feed:
        if not self._finalizer.alive:
            raise RuntimeError("this Core AI runtime is closed")
        arrays = {name: self._array(np.ascontiguousarray(value, np.float32)) for name, value in feed.items()}
        out = self._loop.run_until_complete(self._functions[program](arrays))
        return {name: np.array(value.numpy(), np.float32) for name, value in out.items()}

    def close(self) -> None:
        """Release the loaded functions and the event loop; later calls are errors."""
        self._functions = {}
        self._finalizer()

    def __enter__(self) -> CoreAIRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
