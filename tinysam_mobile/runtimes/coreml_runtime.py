"""Core ML runtime: runs ``encoder.mlpackage`` / ``decoder.mlpackage``.

Two engines behind one class:

* ``coreml``: ``MLModel.predict`` (macOS only), with a compute-unit choice.
* ``mil``: the torch MIL interpreter (``tinysam_mobile.mil``) over the ML Program stored in the
  package, so parity is proven on Linux on exactly what ships.

``engine="auto"`` takes ``coreml`` on macOS and ``mil`` elsewhere.
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from .base import Feed, ProgramRuntime, Shapes

ENGINES = ("auto", "coreml", "mil")
COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")


class _CoreMLProgram:
    """One package through ``MLModel.predict``."""

    def __init__(self, path: Path, compute_units: str) -> None:
        import coremltools as ct

        self._model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit[compute_units])

    def __call__(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._model.predict(feed)

    def io_shapes(self) -> tuple[Shapes, Shapes]:
        description = self._model.get_spec().description
        return tuple(
            {f.name: tuple(int(d) for d in f.type.multiArrayType.shape) for f in features}
            for features in (description.input, description.output)
        )  # type: ignore[return-value]


class _MilProgram:
    """One package through the torch MIL interpreter."""

    def __init__(self, path: Path) -> None:
        from ..mil import MilInterpreter, load_program

        program = load_program(path)
        self._interpreter = MilInterpreter(program)
        function = program.functions["main"]
        self._shapes = (
            {name: _static(var.shape) for name, var in function.inputs.items()},
            {var.name: _static(var.shape) for var in function.outputs},
        )

    def __call__(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._interpreter.run(feed)

    def io_shapes(self) -> tuple[Shapes, Shapes]:
        return self._shapes


def _static(shape: tuple) -> tuple[int, ...]:
    """A MIL shape with symbolic dimensions as -1."""
    return tuple(int(d) if isinstance(d, int | np.integer) else -1 for d in shape)


def resolve_engine(engine: str) -> str:
    """``auto`` -> ``coreml`` on macOS, ``mil`` elsewhere; ``coreml`` off macOS is an error."""
    if engine not in ENGINES:
        raise ValueError(f"unknown Core ML engine {engine!r}; known: {', '.join(ENGINES)}")
    on_mac = platform.system() == "Darwin"
    if engine == "auto":
        return "coreml" if on_mac else "mil"
    if engine == "coreml" and not on_mac:
        raise RuntimeError("Core ML executes models on macOS only; use engine='mil' elsewhere")
    return engine


class CoreMLRuntime(ProgramRuntime):
    """Loads the two packages of a Core ML bundle. ``num_threads`` is accepted for the common
    runtime signature and ignored (Core ML schedules its own threads)."""

    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        max_points: int,
        num_threads: int | None = None,
        decoder_batch: int = 1,
        engine: str = "auto",
        compute_units: str = "ALL",
    ) -> None:
        if compute_units not in COMPUTE_UNITS:
            raise ValueError(f"unknown compute units {compute_units!r}; known: {', '.join(COMPUTE_UNITS)}")
        super().__init__(max_points, decoder_batch)
        self.engine = resolve_engine(engine)
        self.name = "coreml" if self.engine == "coreml" else "coreml-mil"
        self._programs = {
            "encoder": self._load(Path(encoder), compute_units),
            "decoder": self._load(Path(decoder), compute_units),
        }

    def _load(self, path: Path, compute_units: str):
        if not path.is_dir():
            raise FileNotFoundError(f"Core ML package {path} does not exist")
        return _CoreMLProgram(path, compute_units) if self.engine == "coreml" else _MilProgram(path)

    def io_shapes(self, program: str) -> tuple[Shapes, Shapes]:
        return self._programs[program].io_shapes()

    def run(self, program: str, feed: Feed) -> Feed:
        return {name: np.array(value) for name, value in self._programs[program](feed).items()}
