"""The manifest's schema, checked on open: every field a runtime or app reads, with its type and
its agreement with the I/O contract, and (:func:`check_program_io`) with the programs' real
inputs and outputs. Each mismatch is named; nothing fails later inside a runtime."""

from __future__ import annotations

import re
from typing import Any

from ..contract import PROGRAM_IO, PROGRAMS, io_contract
from ..targets import TARGETS

IO_LISTS = {
    f"{program}_{kind}": names
    for program in PROGRAMS
    for kind, names in zip(("inputs", "outputs"), PROGRAM_IO[program], strict=True)
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
Shapes = dict[str, tuple[int, ...]]


class BundleError(ValueError):
    """A bundle whose manifest or programs do not hold together; the message names each problem."""


def check_manifest(manifest: Any, where: str) -> None:
    """Raise :class:`BundleError` listing every problem of a (schema-version-checked) manifest."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: the manifest is a JSON {type(manifest).__name__}, not an object")
    problems: list[str] = []
    if manifest.get("target") not in TARGETS:
        problems.append(f"target {manifest.get('target')!r} is not one of {', '.join(TARGETS)}")
    problems += _artifacts(manifest.get("artifacts"))
    problems += _io(manifest.get("io"))
    if not isinstance(manifest.get("model"), dict):
        problems.append("model is missing or not an object")
    recipe = manifest.get("recipe")
    if not isinstance(recipe, dict) or not isinstance(recipe.get("name"), str):
        problems.append("recipe is missing or not an object with a name")
    if problems:
        raise BundleError(f"{where} is not a valid bundle manifest: " + "; ".join(problems))


def _artifacts(artifacts: Any) -> list[str]:
    if not isinstance(artifacts, dict):
        return ["artifacts is missing or not an object"]
    problems = []
    for role in PROGRAMS:
        entry = artifacts.get(role)
        if not isinstance(entry, dict):
            problems.append(f"artifacts.{role} is missing or not an object")
            continue
        file = entry.get("file")
        if not isinstance(file, str) or not file or "/" in file or "\\" in file or file in (".", ".."):
            problems.append(f"artifacts.{role}.file must be a file name inside the bundle, got {file!r}")
        if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"]):
            problems.append(f"artifacts.{role}.sha256 must be 64 lowercase hex digits")
        if not _is_int(entry.get("bytes")) or entry["bytes"] < 0:
            problems.append(
                f"artifacts.{role}.bytes must be a non-negative integer, got {entry.get('bytes')!r}"
            )
    return problems


def _io(io: Any) -> list[str]:
    if not isinstance(io, dict):
        return ["io is missing or not an object"]
    problems = []
    for key in ("max_points", "decoder_batch"):
        if not _is_int(io.get(key)) or io[key] < 1:
            problems.append(f"io.{key} must be a positive integer, got {io.get(key)!r}")
    for key, names in IO_LISTS.items():
        specs = io.get(key)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            problems.append(f"io.{key} must be a list of tensor specs")
        elif [s.get("name") for s in specs] != list(names):
            problems.append(
                f"io.{key} names {[s.get('name') for s in specs]}, the contract's are {list(names)}"
            )
        else:
            problems += [f"io.{key} {s['name']}: {p}" for s in specs for p in _spec(s)]
    if problems:
        return problems
    return _contract_shapes(io)


def _spec(spec: dict[str, Any]) -> list[str]:
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d > 0 for d in shape):
        return [f"shape must be a list of positive integers, got {shape!r}"]
    if spec.get("dtype") != "float32":
        return [f"dtype must be float32, got {spec.get('dtype')!r}"]
    return []


def _contract_shapes(io: dict[str, Any]) -> list[str]:
    """The shapes :func:`~tinysam_mobile.contract.io_contract` fixes, given ``max_points`` (N),
    ``decoder_batch`` (B) and the embedding shape the encoder declares."""
    n, b = io["max_points"], io["decoder_batch"]
    embeddings = io["encoder_outputs"][0]["shape"]
    if len(embeddings) != 4 or embeddings[0] != 1 or embeddings[2] != embeddings[3]:
        return [f"io.encoder_outputs image_embeddings has shape {embeddings}, expected 1 x C x S x S"]
    expected = io_contract(embeddings[1], embeddings[2], n, b).to_dict()
    return [
        f"io.{key} {spec['name']} has shape {spec['shape']}, expected {list(want['shape'])} "
        f"(max_points {n}, decoder_batch {b})"
        for key in IO_LISTS
        for spec, want in zip(io[key], expected[key], strict=True)
        if spec["shape"] != list(want["shape"])
    ]


def check_program_io(io: dict[str, Any], programs: dict[str, tuple[Shapes, Shapes]], where: str) -> None:
    """Compare the manifest's ``io`` with the programs' real ``(inputs, outputs)`` shapes (a
    dynamic axis, ``-1``, matches any size)."""
    problems = []
    for role in PROGRAMS:
        inputs, outputs = programs[role]
        for kind, real in (("inputs", inputs), ("outputs", outputs)):
            for spec in io[f"{role}_{kind}"]:
                found = real.get(spec["name"])
                if found is None:
                    problems.append(f"the {role} program has no {kind[:-1]} {spec['name']}")
                elif len(found) != len(spec["shape"]) or any(
                    f not in (-1, s) for f, s in zip(found, spec["shape"], strict=False)
                ):
                    problems.append(
                        f"{role} {kind[:-1]} {spec['name']}: manifest {spec['shape']}, program {list(found)}"
                    )
    if problems:
        raise BundleError(f"{where}: the manifest does not describe its programs: " + "; ".join(problems))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
