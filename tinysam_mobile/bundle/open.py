"""Open a bundle directory (manifest + programs) as a runtime for ``Predictor`` and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..converters import Programs, get_target
from ..runtimes.base import ProgramRuntime, Runtime
from .manifest import read_manifest
from .schema import check_program_io


def open_bundle(
    bundle_dir: Path, num_threads: int | None = None, manifest: dict[str, Any] | None = None
) -> Runtime:
    """The runtime of the bundle's target over its verified programs, whose real inputs and
    outputs must be the manifest's (:func:`~tinysam_mobile.bundle.schema.check_program_io`).

    ``manifest``: the bundle's manifest when the caller has already read (and so verified) it,
    which spares hashing the programs twice.
    """
    bundle_dir = Path(bundle_dir)
    manifest = manifest if manifest is not None else read_manifest(bundle_dir)
    target = get_target(manifest["target"])
    artifacts, io = manifest["artifacts"], manifest["io"]
    programs = Programs(bundle_dir / artifacts["encoder"]["file"], bundle_dir / artifacts["decoder"]["file"])
    runtime = target.open_runtime(programs, io["max_points"], num_threads, io["decoder_batch"])
    shapes = runtime.program_io() if isinstance(runtime, ProgramRuntime) else None
    if shapes is not None:
        check_program_io(io, shapes, str(bundle_dir))
    return runtime
