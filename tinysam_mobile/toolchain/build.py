"""Build a bundle: convert per recipe, prove parity on the artifact's runtime, write the manifest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..assets import sample_images
from ..bundle.manifest import build_manifest, write_manifest
from ..checkpoints import LoadedCheckpoint, load_checkpoint
from ..contract import DEFAULT_MAX_POINTS
from ..fs import staged_dir
from ..modeling import Sam
from ..runtimes import TorchRuntime
from ..targets import default_bundle_dir
from .converters import get_backend
from .destination import check_destination, conversion_inputs
from .export import io_contract
from .parity import ParityReport, run_parity
from .parity_figure import write_report
from .recipes import Recipe


class ParityFailure(Exception):
    """The artifact does not meet its recipe's parity thresholds."""


@dataclass
class BuildResult:
    bundle_dir: Path
    manifest: dict[str, Any]
    report: ParityReport | None


def parity_entry(report: ParityReport, recipe: Recipe) -> dict[str, Any]:
    """The manifest's record of a passed parity check: what ran it and whether it was judged."""
    judged = report.judged
    return {
        "passed": True,
        "judged": judged,
        "runtime": report.candidate,
        "real_runtime": recipe.runnable_here(),
        "photos": len(report.embedding_cosine),
        "summary": report.summary,
        "thresholds": asdict(report.thresholds) if report.thresholds else None,
        "note": None
        if judged
        else "untrained weights: the quality contract cannot judge them; metrics are reported only",
    }


def resolve_recipe(target_name: str, recipe_name: str | None = None) -> Recipe:
    """A recipe of a registered target (its default without ``recipe_name``), validated against
    what the target's backend supports."""
    backend = get_backend(target_name)
    return backend.load_recipe(recipe_name or backend.target.default_recipe)


def as_loaded(checkpoint: str | os.PathLike[str] | Sam | LoadedCheckpoint) -> LoadedCheckpoint:
    """A checkpoint spec (name, path, URL, ``untrained[:SEED]``), a model or a loaded checkpoint."""
    if isinstance(checkpoint, LoadedCheckpoint):
        return checkpoint
    if isinstance(checkpoint, Sam):
        return LoadedCheckpoint.of(checkpoint)
    return load_checkpoint(os.fspath(checkpoint))


def build_bundle(
    checkpoint: str | os.PathLike[str] | Sam | LoadedCheckpoint,
    target_name: str,
    recipe_name: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    parity: bool = True,
    num_threads: int | None = None,
    calibration_dir: Path | None = None,
    progress: Callable[[str], None] = print,
    overwrite: bool = False,
) -> BuildResult:
    """Convert a model (see :func:`as_loaded`) into a bundle at ``out_dir`` (default
    ``out/TARGET-RECIPE``), replaced atomically on success, with the target's default recipe
    unless ``recipe_name`` names one.

    When parity fails, nothing is written at ``out_dir``; the report goes to
    ``<out_dir>.parity-failed/`` and :class:`ParityFailure` is raised. ``out_dir`` is checked
    first (:func:`~tinysam_mobile.bundle.destination.check_destination`): a previous bundle is
    replaced only with ``overwrite``, anything else that exists there is never touched.
    """
    backend = get_backend(target_name)
    recipe = resolve_recipe(target_name, recipe_name)
    out_dir = Path(out_dir if out_dir is not None else default_bundle_dir(backend.name, recipe.name))
    inputs = conversion_inputs(checkpoint, calibration_dir, recipe_name)
    check_destination(out_dir, inputs, overwrite=overwrite)
    loaded = as_loaded(checkpoint)
    decoder_batch = backend.decoder_batch
    model = loaded.model
    report = None
    with staged_dir(out_dir) as stage:
        programs = backend.convert(
            model,
            recipe,
            stage,
            max_points=max_points,
            calibration_dir=calibration_dir,
            progress=progress,
        )
        if parity:
            photos = sample_images()[: recipe.parity_photos]
            progress(f"parity: float reference vs artifact on {len(photos)} bundled image(s)")
            runtime = backend.open_runtime(programs, max_points, num_threads)
            report = run_parity(
                TorchRuntime(model),  # the official, unpadded semantics
                runtime,
                photos,
                thresholds=recipe.parity,
                progress=progress,
                untrained=loaded.untrained,
            )
            write_report(report, stage / "parity")
            if report.failures:
                failed = out_dir.with_name(out_dir.name + ".parity-failed")
                shutil.rmtree(failed, ignore_errors=True)
                shutil.copytree(stage / "parity", failed)
                raise ParityFailure(
                    f"{backend.name}/{recipe.name} fails parity ({'; '.join(report.failures)}); "
                    f"report in {failed}"
                )
        manifest = build_manifest(
            target=backend.name,
            recipe=recipe.source,
            contract=io_contract(model, max_points, decoder_batch),
            encoder=programs.encoder,
            decoder=programs.decoder,
            model={
                "config": model.config.name,
                "checkpoint": loaded.source,
                "checkpoint_sha256": loaded.sha256,
                "untrained": loaded.untrained,
            },
            parity=None if report is None else parity_entry(report, recipe),
            tools=backend.tool_versions(),
        )
        write_manifest(stage, manifest)
    return BuildResult(out_dir, manifest, report)
