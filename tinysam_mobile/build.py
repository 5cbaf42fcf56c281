"""Build a bundle: convert per recipe, prove parity on the artifact's runtime, write the manifest."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .assets import bundled_photos
from .checkpoints import LoadedCheckpoint
from .converters import get_target
from .export import io_contract
from .manifest import build_manifest, staged_dir, write_manifest
from .parity import ParityReport, run_parity
from .recipes import Recipe, load_recipe
from .runtimes import TorchRuntime


class ParityFailure(Exception):
    """The artifact does not meet its recipe's parity thresholds."""


@dataclass
class BuildResult:
    bundle_dir: Path
    manifest: dict[str, Any]
    report: ParityReport | None


def resolve_recipe(target_name: str, recipe_name: str) -> Recipe:
    """Load a recipe of a registered target, validated against what the target supports."""
    target = get_target(target_name)
    return load_recipe(target.name, recipe_name, target.load().PRECISIONS)


def build_bundle(
    loaded: LoadedCheckpoint,
    target_name: str,
    recipe_name: str,
    out_dir: Path,
    *,
    max_points: int,
    parity: bool = True,
    num_threads: int | None = None,
    calibration_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> BuildResult:
    """Convert ``loaded.model`` into a bundle at ``out_dir`` (replaced atomically on success).

    When parity fails, nothing is written at ``out_dir``; the report goes to
    ``<out_dir>.parity-failed/`` and :class:`ParityFailure` is raised.
    """
    target = get_target(target_name)
    backend = target.load()
    recipe = load_recipe(target.name, recipe_name, backend.PRECISIONS)
    model = loaded.model
    config = model.config.name
    report = None
    with staged_dir(out_dir) as stage:
        programs = backend.convert(
            model, recipe, stage, max_points=max_points, calibration_dir=calibration_dir, progress=progress
        )
        if parity:
            progress("parity: float reference vs artifact on the bundled photos")
            runtime = backend.open_runtime(programs, max_points, num_threads)
            report = run_parity(
                TorchRuntime(model, max_points),
                runtime,
                bundled_photos()[: recipe.parity_photos],
                thresholds=recipe.thresholds(config),
                progress=progress,
            )
            report.write(stage / "parity")
            if report.failures:
                failed = out_dir.with_name(out_dir.name + ".parity-failed")
                shutil.rmtree(failed, ignore_errors=True)
                shutil.copytree(stage / "parity", failed)
                raise ParityFailure(
                    f"{target.name}/{recipe.name} fails parity ({'; '.join(report.failures)}); "
                    f"report in {failed}"
                )
        manifest = build_manifest(
            target=target.name,
            recipe=recipe.source,
            contract=io_contract(model, max_points),
            encoder=programs.encoder,
            decoder=programs.decoder,
            model={
                "config": config,
                "checkpoint": loaded.source,
                "checkpoint_sha256": loaded.sha256,
                "untrained": loaded.untrained,
            },
            parity=None
            if report is None
            else {
                "passed": True,
                "photos": list(report.embedding_cosine),
                "summary": report.summary,
                "thresholds": asdict(report.thresholds) if report.thresholds else None,
                "note": "untrained weights: agreement of logits and masks between runtimes only"
                if loaded.untrained
                else None,
            },
            tools=backend.tool_versions(),
        )
        write_manifest(stage, manifest)
    return BuildResult(out_dir, manifest, report)
