"""Bundle writing: atomic replacement, hashes, schema checks."""

from __future__ import annotations

import json

import pytest

from tinysam_mobile.bundle.manifest import build_manifest, read_manifest, write_manifest
from tinysam_mobile.fs import staged_dir
from tinysam_mobile.toolchain.export import io_contract


def _bundle(stage, model):
    (stage / "encoder.pte").write_bytes(b"enc")
    (stage / "decoder.pte").write_bytes(b"dec")
    manifest = build_manifest(
        target="executorch",
        recipe={"name": "r"},
        contract=io_contract(model),
        encoder=stage / "encoder.pte",
        decoder=stage / "decoder.pte",
        model={"config": "tiny-test"},
        parity=None,
        tools={},
    )
    write_manifest(stage, manifest)


def test_bundle_round_trip_and_replace(tmp_path, tiny_model):
    out = tmp_path / "bundle"
    with staged_dir(out) as stage:
        _bundle(stage, tiny_model)
    manifest = read_manifest(out)
    assert manifest["artifacts"]["encoder"]["bytes"] == 3
    assert manifest["io"]["encoder_outputs"][0]["shape"] == [1, 32, 64, 64]
    with staged_dir(out) as stage:  # replacing an existing bundle
        _bundle(stage, tiny_model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_failure_leaves_nothing(tmp_path, tiny_model):
    out = tmp_path / "bundle"
    with pytest.raises(RuntimeError), staged_dir(out) as stage:
        (stage / "encoder.pte").write_bytes(b"partial")
        raise RuntimeError("conversion failed")
    assert list(tmp_path.iterdir()) == []


def test_tampered_artifact_and_schema_are_detected(tmp_path, tiny_model):
    out = tmp_path / "bundle"
    with staged_dir(out) as stage:
        _bundle(stage, tiny_model)
    (out / "decoder.pte").write_bytes(b"other")
    with pytest.raises(ValueError, match="does not match its sha256"):
        read_manifest(out)
    data = json.loads((out / "manifest.json").read_text())
    data["schema_version"] = 99
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema_version 99"):
        read_manifest(out)


def test_v1_bundles_are_refused_with_a_rebuild_hint(tmp_path, tiny_model):
    out = tmp_path / "bundle"
    with staged_dir(out) as stage:
        _bundle(stage, tiny_model)
    data = json.loads((out / "manifest.json").read_text())
    assert data["schema_version"] == 2 and data["prompt_labels"]["unused"] == -2
    data["schema_version"] = 1
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="rebuild it with python -m tinysam_mobile.convert"):
        read_manifest(out)
