"""The bundle contract read by the apps: ``manifest.json`` beside the two programs.

Layout of a bundle directory::

    encoder.<ext>  decoder.<ext>  manifest.json  parity/parity.json  parity/parity.png

The manifest holds the schema version, the artifact files with sha256 and size, the I/O contract
(names, shapes, dtypes, ``max_points``), the pre/post-processing contract, the prompt labels,
the recipe, the parity summary, the tool versions and the checkpoint's provenance. Bundles are
built in a temporary directory next to the destination and moved into place in one step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import contract, transforms
from ..contract import PROMPT_LABELS, IOContract
from ..fs import tree_sha256, write_atomic
from ..version import __version__
from .schema import BundleError, check_manifest

# 2: decoder contract v2 (unused slots label -2 masked out of attention; a prompt-batch axis).
SCHEMA_VERSION = 2
MANIFEST = "manifest.json"

PRE_POST_CONTRACT: dict[str, Any] = {
    "input_size": contract.IMG_SIZE,
    "resize": "longest side to input_size, new = int(old * input_size / max(h, w) + 0.5), "
    "bilinear with antialias (PIL)",
    "pixel_mean": transforms.PIXEL_MEAN.tolist(),
    "pixel_std": transforms.PIXEL_STD.tolist(),
    "normalize": "(rgb_0_255 - pixel_mean) / pixel_std, channels first",
    "pad": "zeros (after normalization), bottom and right, to input_size x input_size",
    "coords": "(x, y) * (resized_w / original_w, resized_h / original_h); the model adds 0.5",
    "low_res_size": contract.LOW_RES_SIZE,
    "postprocess": "bilinear (align_corners=False) low_res -> input_size, crop to the resized size, "
    "bilinear to the original size, mask = logits > mask_threshold",
    "mask_threshold": contract.MASK_THRESHOLD,
    "outputs": "mask tokens 1..3 and their predicted IoUs",
}


def artifact_entry(path: Path) -> dict[str, Any]:
    """File name, sha256 and size of a program (a file, or a directory such as .mlpackage)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {"file": path.name, "sha256": tree_sha256(path), "bytes": sum(f.stat().st_size for f in files)}


def build_manifest(
    *,
    target: str,
    recipe: dict[str, Any],
    contract: IOContract,
    encoder: Path,
    decoder: Path,
    model: dict[str, Any],
    parity: dict[str, Any] | None,
    tools: dict[str, str],
) -> dict[str, Any]:
    """Assemble the manifest dict (see the module docstring)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created_by": f"tinysam-mobile {__version__}",
        "target": target,
        "artifacts": {"encoder": artifact_entry(encoder), "decoder": artifact_entry(decoder)},
        "io": contract.to_dict(),
        "preprocessing": PRE_POST_CONTRACT,
        "prompt_labels": PROMPT_LABELS,
        "recipe": recipe,
        "model": model,
        "parity": parity,
        "tools": tools,
    }


def write_manifest(bundle_dir: Path, manifest: dict[str, Any]) -> Path:
    return write_atomic(bundle_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Read and check a bundle's manifest: valid JSON, schema version, every field
    (:func:`~tinysam_mobile.bundle.schema.check_manifest`) and the artifacts' hashes."""
    path = Path(bundle_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not a bundle: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc})") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version == 1:
        raise ValueError(
            f"{path}: schema_version 1 bundles pad prompts with attending -1 tokens, so they answer "
            "differently from TinySAM; rebuild it with python -m tinysam_mobile.convert"
        )
    if isinstance(manifest, dict) and version != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {version!r}, this tool reads {SCHEMA_VERSION}")
    check_manifest(manifest, str(path))
    for role in contract.PROGRAMS:
        entry = manifest["artifacts"][role]
        program = Path(bundle_dir) / entry["file"]
        if not program.exists():
            raise BundleError(f"{bundle_dir}: the {role} program {entry['file']} is missing")
        if artifact_entry(program)["sha256"] != entry["sha256"]:
            raise ValueError(f"{bundle_dir}/{entry['file']} ({role}) does not match its sha256 in {MANIFEST}")
    return manifest
