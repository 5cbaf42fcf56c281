"""Open a bundle directory (manifest + programs) as a runtime for ``Predictor`` and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..runtimes import Runtime, runtime_class
from .manifest import read_manifest
from .schema import check_program_io


def open_bundle(
    bundle_dir: Path, num_threads: int | None = None, manifest: dict[str, Any] | None = None
) -> Runtime:
    """The runtime of the bundle's target over its verified programs, whose real inputs and
    outputs must be the manifest's (:func:`~tinysam_mobile.bundle.schema.check_program_io`).
    Only the target's runtime is imported (never a converter).

    ``manifest``: the bundle's manifest when the caller has already read (and so verified) it,
    which spares hashing the programs twice.
    """
    bundle_dir = Path(bundle_dir)
    manifest = manifest if manifest is not None else read_manifest(bundle_dir)
    artifacts, io = manifest["artifacts"], manifest["io"]
    runtime = runtime_class(manifest["target"])(
        bundle_dir / artifacts["encoder"]["file"],
        bundle_dir / artifacts["decoder"]["file"],
        io["max_points"],
        num_threads=num_threads,
        decoder_batch=io["decoder_batch"],
    )
    shapes = runtime.program_io()
    if shapes is not None:
        check_program_io(io, shapes, str(bundle_dir))
    return runtime
