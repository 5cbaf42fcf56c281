"""Core AI target pieces: fp16 safety, the runtime and its errors, the convert command, and the
bundle's programs loaded by the stock ``coreai`` API alone (no project code)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tinysam_mobile.bundle import open_bundle, read_manifest
from tinysam_mobile.contract import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS
from tinysam_mobile.modeling.common import LayerNorm2d
from tinysam_mobile.prompts import PromptBatch
from tinysam_mobile.runtimes.base import decoder_feeds
from tinysam_mobile.runtimes.coreai_runtime import CoreAIRuntime
from tinysam_mobile.toolchain.converters import coreai, get_backend
from tinysam_mobile.toolchain.converters.base import ProgramJob


def _save(module: torch.nn.Module, example: tuple, names: tuple, path: Path, fp16_keep=None) -> Path:
    """Convert a small module to an asset: float32, or fp16 keeping the nodes ``fp16_keep``."""
    program = coreai.export_program(module, example)
    if fp16_keep is not None:
        program = coreai.to_fp16(program, fp16_keep)
    scheme = "fp32" if fp16_keep is None else "fp16"
    job = ProgramJob(path.stem, module, example, *names, scheme, {}, lambda: iter(()))
    return coreai.save(coreai.to_aiprogram(program, *names), path, job)


def _run(asset: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One call in coreai-core's runtime, through its own API."""
    from coreai.authoring import AIModelAsset
    from coreai.runtime import NDArray

    async def call() -> dict[str, np.ndarray]:
        async with AIModelAsset.load(asset).executable() as model:
            out = await model.load_function("main")({k: NDArray(v) for k, v in feed.items()})
            return {k: np.array(v.numpy()) for k, v in out.items()}

    return asyncio.run(call())


def test_fp16_unsafe_nodes_are_kept_in_float32(tmp_path):
    """SAM's LayerNorm2d squares its centered input: at activations ~1000 the square overflows
    fp16. The range analysis finds exactly the nodes that produce or read overflowing values;
    keeping them in float32 gives the float32 result in Core AI's runtime, all-fp16 does not."""
    module = LayerNorm2d(4).eval()
    example = (torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(0)) * 1000,)
    names = (("x",), ("y",))
    program = coreai.export_program(module, example)
    feed = {"x": example[0].numpy()}
    unsafe = coreai.fp16_unsafe_nodes(program, coreai.activation_ranges(program, ("x",), [feed]))
    # (x - u)^2, its mean, + eps, and the sqrt that reads it
    assert {name.rstrip("_0123456789") for name in unsafe} == {"pow", "mean", "add", "sqrt"}, unsafe

    expected = module(*example).detach().numpy()
    kept = _save(module, example, names, tmp_path / "kept.aimodel", fp16_keep=unsafe)
    inventory = coreai.asset_inventory(kept)
    assert inventory["inputs"] == {"x": ((1, 4, 6, 6), "float32")}  # fp16 compute, float32 I/O
    assert inventory["outputs"] == {"y": ((1, 4, 6, 6), "float32")}
    assert "Float16" in inventory["compute_types"]
    np.testing.assert_allclose(_run(kept, feed)["y"], expected, atol=2e-2)
    naive = _run(_save(module, example, names, tmp_path / "naive.aimodel", fp16_keep=frozenset()), feed)["y"]
    assert not np.isfinite(naive).all() or np.abs(naive - expected).max() > 0.5


class ToyEncoder(torch.nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image[:, :1, :4, :4] * 2


class ToyDecoder(torch.nn.Module):
    """The decoder contract's names on toy arithmetic: masks = 2 * mask_input + has_mask,
    IoU = the sum of the labels, broadcast to three masks."""

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input):
        masks = (mask_input * 2 + has_mask_input).expand(1, 3, 256, 256)
        unused = 0 * (image_embeddings.sum() + point_coords.sum())
        return masks, point_labels.sum(dim=1, keepdim=True).expand(1, 3) + unused


@pytest.fixture(scope="module")
def toy_assets(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("toy")
    names = (ENCODER_INPUTS, ENCODER_OUTPUTS)
    encoder = _save(ToyEncoder(), (torch.zeros(1, 3, 8, 8),), names, out / "e.aimodel")
    example = (torch.zeros(1, 2, 4, 4), torch.zeros(1, 8, 2), torch.zeros(1, 8), torch.zeros(1, 1, 256, 256))
    decoder = _save(
        ToyDecoder(), (*example, torch.zeros(1)), (DECODER_INPUTS, DECODER_OUTPUTS), out / "d.aimodel"
    )
    return encoder, decoder


def test_runtime_runs_the_decode_loop_and_closes(toy_assets):
    encoder, decoder = toy_assets
    with CoreAIRuntime(encoder, decoder, max_points=8) as runtime:
        image = np.arange(3 * 8 * 8, dtype=np.float32).reshape(1, 3, 8, 8)
        np.testing.assert_array_equal(runtime.encode(image), image[:, :1, :4, :4] * 2)
        prompts = PromptBatch(
            np.zeros((2, 3, 2), np.float32),
            np.array([[1, -1, -1], [1, 0, 2]], np.float32),
            np.ones((2, 1, 256, 256), np.float32),
        )
        embeddings = np.zeros((1, 2, 4, 4), np.float32)
        logits, iou = runtime.decode(embeddings, prompts)
    assert logits.shape == (2, 3, 256, 256) and np.all(logits == 3.0)  # 2 * 1 + has_mask
    label_sums = [feed["point_labels"].sum() for feed in decoder_feeds(embeddings, prompts, 8, 1)]
    np.testing.assert_array_equal(iou, np.repeat(np.array(label_sums)[:, None], 3, axis=1))
    with pytest.raises(RuntimeError, match="closed"):
        runtime.encode(image)


def test_runtime_load_errors(tmp_path, toy_assets):
    _, decoder = toy_assets
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CoreAIRuntime(tmp_path / "missing.aimodel", decoder, 8)
    junk = tmp_path / "junk.aimodel"
    junk.mkdir()
    (junk / "main.mlirb").write_bytes(b"not bytecode" * 8)
    with pytest.raises(RuntimeError, match="Core AI could not load"):
        CoreAIRuntime(junk, decoder, 8)
    with pytest.raises(RuntimeError, match=r"expected \('image',\)"):
        CoreAIRuntime(decoder, decoder, 8)


def test_missing_backend_is_an_install_hint(monkeypatch):
    monkeypatch.delitem(sys.modules, "tinysam_mobile.toolchain.converters.coreai")
    monkeypatch.setitem(sys.modules, "coreai_torch", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"coreai_torch is not installed.*tinysam-mobile\[coreai\]"):
        get_backend("coreai")


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> tuple[Path, str]:
    """``--target coreai`` alone: the default recipe, tiny config, no parity."""
    out = tmp_path_factory.mktemp("cli") / "bundle"
    args = ["--target", "coreai", "--out", str(out), "--no-parity", "--checkpoint", "untrained"]
    log = subprocess.run(
        [sys.executable, "-m", "tinysam_mobile.convert", *args, "--model-config", "tiny-test"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out, log


def test_convert_command_writes_a_coreai_bundle(tiny_bundle):
    out, log = tiny_bundle
    manifest = read_manifest(out)
    assert manifest["target"] == "coreai" and manifest["recipe"]["name"] == "fp16"
    assert {a["file"] for a in manifest["artifacts"].values()} == {"encoder.aimodel", "decoder.aimodel"}
    assert {"coreai-torch", "coreai-core", "coreai-opt"} <= set(manifest["tools"])
    assert "decoder: fp16 compute; kept in float32: none" in log
    assert manifest["io"]["decoder_batch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["decoder.aimodel", "encoder.aimodel", "manifest.json"]


def test_open_bundle_runs_and_leaves_the_assets_unchanged(tiny_bundle, tmp_path):
    out = shutil.copytree(tiny_bundle[0], tmp_path / "bundle")
    manifest = read_manifest(out)
    shape = manifest["io"]["decoder_inputs"][0]["shape"]
    runtime = open_bundle(out, manifest=manifest)
    assert isinstance(runtime, CoreAIRuntime) and runtime.max_points == 8
    prompts = PromptBatch(np.full((1, 1, 2), 512, np.float32), np.ones((1, 1), np.float32))
    logits, iou = runtime.decode(np.zeros(shape, np.float32), prompts)
    runtime.close()
    assert logits.shape == (1, 3, 256, 256) and iou.shape == (1, 3) and np.isfinite(logits).all()
    read_manifest(out)  # loading wrote nothing into the assets
    program = out / "decoder.aimodel" / "main.mlirb"
    data = bytearray(program.read_bytes())
    data[len(data) // 2] ^= 0xFF
    program.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its sha256"):
        read_manifest(out)


STOCK_API = """
import asyncio, json, sys
from pathlib import Path
import numpy as np
from coreai.authoring import AIModelAsset
from coreai.runtime import NDArray

bundle = Path(sys.argv[1])
manifest = json.loads((bundle / "manifest.json").read_text())
report = {}

async def check(program):
    asset = AIModelAsset.load(bundle / manifest["artifacts"][program]["file"])
    inputs = manifest["io"][f"{program}_inputs"]
    outputs = manifest["io"][f"{program}_outputs"]
    async with asset.executable() as model:
        function = model.load_function("main")
        assert list(function.desc.input_names) == [s["name"] for s in inputs], function.desc.input_names
        assert list(function.desc.output_names) == [s["name"] for s in outputs]
        feed = {s["name"]: NDArray(np.zeros(s["shape"], np.float32)) for s in inputs}
        result = await function(feed)
    for spec in outputs:
        value = result[spec["name"]].numpy()
        assert list(value.shape) == spec["shape"] and value.dtype == np.float32, (spec, value.shape)
        assert np.isfinite(value).all()
    report[program] = dict(asset.metadata.creator_defined_metadata)

for program in ("decoder", "encoder"):
    asyncio.run(check(program))
report["project_modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "tinysam_mobile")
print(json.dumps(report))
"""


def test_bundle_programs_load_with_the_stock_coreai_api(tiny_bundle, tmp_path):
    """A fresh interpreter with only coreai and NumPy imported reads the manifest, loads both
    assets, checks their I/O names and runs them with the manifest's shapes."""
    out, _ = tiny_bundle
    script = tmp_path / "stock.py"
    script.write_text(STOCK_API)
    for _attempt in range(2):  # coreai-core 1.0.0b3 on Linux rarely aborts while loading (SIGABRT)
        run = subprocess.run(
            [sys.executable, "-I", str(script), str(out)], capture_output=True, text=True, cwd=tmp_path
        )
        if run.returncode != -6:
            break
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["project_modules"] == []
    assert report["encoder"] == {"tinysam.program": "encoder", "tinysam.scheme": "fp16"}
    assert report["decoder"]["tinysam.program"] == "decoder"
