"""Open a bundle directory (manifest + programs) as a runtime for ``Predictor`` and benchmarks."""

from __future__ import annotations

from pathlib import Path

from .converters import Programs, get_target
from .manifest import read_manifest
from .runtimes.base import Runtime


def open_bundle(bundle_dir: Path, num_threads: int | None = None) -> Runtime:
    """The runtime of the bundle's target over its verified programs."""
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    backend = get_target(manifest["target"]).load()
    artifacts = manifest["artifacts"]
    programs = Programs(bundle_dir / artifacts["encoder"]["file"], bundle_dir / artifacts["decoder"]["file"])
    return backend.open_runtime(programs, manifest["io"]["max_points"], num_threads)
