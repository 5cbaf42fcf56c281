"""Bad-input corpus, part 2: images, checkpoints and bundle manifests, through the commands and
the Python API (part 1: tests/test_bad_inputs.py). Refusals are one line with no traceback and
leave nothing behind; the rules that convert instead of refusing are checked for their values."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.bad_inputs import PHOTO, assert_refused, run_cli, snapshot
from tests.bad_inputs import TINY as TINY_ARGS
from tests.test_checkpoints import _Server
from tinysam_mobile.bundle import open_bundle, read_manifest
from tinysam_mobile.bundle.manifest import build_manifest, write_manifest
from tinysam_mobile.bundle.schema import BundleError
from tinysam_mobile.checkpoints import CheckpointError, cache_dir, load_checkpoint, resolve_path
from tinysam_mobile.cli import convert, everything, segment
from tinysam_mobile.images import ImageError, load_image
from tinysam_mobile.modeling import TINY, TINYSAM
from tinysam_mobile.predictor import BrokenModelError, Predictor
from tinysam_mobile.runtimes import TorchRuntime
from tinysam_mobile.runtimes.base import ProgramRuntime
from tinysam_mobile.toolchain.export import io_contract

# ---------------------------------------------------------------- images -----------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` (a decompression bomb's first bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    return path


def _exif_rotated_jpeg(path: Path) -> Path:
    """A 60 x 40 (W x H) JPEG whose EXIF orientation 6 displays it as 40 x 60, red on the left."""
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, :30] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return path


def _truncated(path: Path) -> Path:
    data = PHOTO.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


BAD_IMAGES = {
    # id: (make(path) -> path, fragment)
    "missing-file": (lambda p: p / "nope.jpg", "No such file"),
    "folder": (lambda p: (p / "dir.jpg").mkdir() or p / "dir.jpg", "is a directory"),
    "text-as-jpeg": (lambda p: (p / "t.jpg").write_text("not an image") and p / "t.jpg", "cannot read image"),
    "truncated-jpeg": (lambda p: _truncated(p / "cut.jpg"), "cannot read image"),
    "pillow-bomb-png": (lambda p: _png_header_only(p / "bomb.png", 30000, 30000), "exceeds limit"),
    "over-our-limit-png": (lambda p: _png_header_only(p / "big.png", 6000, 5000), "over the 24 MP"),
    "float-tiff-0-255": (
        lambda p: Image.fromarray(np.full((8, 8), 200.0, np.float32)).save(p / "f.tif") or p / "f.tif",
        "only 0..1 float",
    ),
    "float-tiff-nan": (
        lambda p: Image.fromarray(np.full((8, 8), np.nan, np.float32)).save(p / "n.tif") or p / "n.tif",
        "NaN or infinite",
    ),
}


@pytest.mark.parametrize("case", BAD_IMAGES, ids=list(BAD_IMAGES))
def test_segment_refuses_unreadable_images_before_work(case, tmp_path, capsys):
    make, fragment = BAD_IMAGES[case]
    image = make(tmp_path)
    before = snapshot(tmp_path)
    outcome = run_cli(
        segment.main, [image, "--point", "1,1", "--out", tmp_path / "o.png", *TINY_ARGS], capsys
    )
    assert_refused(outcome, fragment)
    assert "UNTRAINED" not in outcome.err  # refused before the model was loaded
    assert snapshot(tmp_path) == before


def _image(mode: str) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(np.full((4, 6), 32768, np.uint16))
    if mode == "F":
        return Image.fromarray(np.full((4, 6), 0.5, np.float32))
    if mode == "P-transparent":
        image = Image.new("P", (6, 4), 0)
        image.putpalette([0, 0, 0] * 256)
        image.info["transparency"] = 0
        return image
    if mode == "LA":
        return Image.new("LA", (6, 4), (0, 0))
    if mode == "RGBA":
        return Image.new("RGBA", (6, 4), (0, 0, 0, 0))
    if mode == "CMYK":
        return Image.new("CMYK", (6, 4), (0, 255, 255, 0))  # red
    if mode == "I-32bit":
        return Image.fromarray(np.full((4, 6), 70000, np.int32))
    raise AssertionError(mode)


CONVERTED = {
    # id: expected RGB of every pixel (the module's stated rule)
    "I;16": (128, 128, 128),  # 16-bit scaled by 255/65535, not clipped to white
    "F": (128, 128, 128),  # 0..1 float scaled by 255, not truncated to black
    "P-transparent": (255, 255, 255),  # transparency on white
    "LA": (255, 255, 255),
    "RGBA": (255, 255, 255),
    "CMYK": (255, 0, 0),
}


@pytest.mark.parametrize("mode", CONVERTED, ids=list(CONVERTED))
def test_every_mode_converts_by_its_rule(mode, tmp_path):
    pixels = load_image(_image(mode)).pixels
    assert pixels.shape == (4, 6, 3) and pixels.dtype == np.uint8
    assert (pixels.reshape(-1, 3) == CONVERTED[mode]).all(), pixels[0, 0]
    path = tmp_path / ("image.tif" if mode in ("F", "CMYK") else "image.png")  # the same from a file
    _image(mode).save(path)
    assert (load_image(path).pixels.reshape(-1, 3) == CONVERTED[mode]).all()


def test_a_32_bit_image_beyond_16_bits_is_refused_by_name():
    with pytest.raises(ImageError, match="only 0..65535"):
        load_image(_image("I-32bit"))


def test_exif_orientation_is_applied_by_the_command_and_the_api(tmp_path, capsys):
    photo = _exif_rotated_jpeg(tmp_path / "phone.jpg")
    loaded = load_image(photo)
    assert loaded.pixels.shape == (60, 40, 3) and loaded.original_size == (60, 40)
    assert loaded.pixels[0, 20, 0] > 200 and loaded.pixels[-1, 20, 0] < 60  # red went to the top
    out = tmp_path / "o.png"
    outcome = run_cli(segment.main, [photo, "--point", "20,50", "--out", out, *TINY_ARGS], capsys)
    assert outcome.code == 0 and "Traceback" not in outcome.err
    assert Image.open(out).size == (40, 60)
    assert "outside" not in outcome.err  # (20, 50) is inside the displayed 40 x 60 picture


def test_large_jpeg_is_decoded_reduced_or_refused_by_the_limit(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.full((100, 200, 3), 90, np.uint8)).save(path)
    loaded = load_image(path, max_pixels=6000)
    assert loaded.original_size == (100, 200) and loaded.size == (50, 100) and loaded.scale == (0.5, 0.5)
    with pytest.raises(ImageError, match="over the 0 MP"):
        load_image(path, max_pixels=6000, reduce=False)


@pytest.mark.parametrize(
    "image,error,fragment",
    [
        (np.zeros((4, 4, 3), np.float32), ValueError, "must be uint8"),
        (np.zeros((4, 4, 4), np.uint8), ValueError, "composite the alpha"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "at least 1x1"),
        ([[1, 2]], TypeError, "numpy array or PIL.Image"),
        ("missing.png", ImageError, "cannot read image"),
    ],
    ids=["float-array", "rgba-array", "empty-array", "list", "missing-path"],
)
def test_predictor_set_image_refuses_by_name(image, error, fragment, tiny_model):
    with pytest.raises(error, match=fragment):
        Predictor(tiny_model).set_image(image)


# ---------------------------------------------------------------- checkpoints ------------------


class _Exploit:
    def __reduce__(self):
        import os

        return os.system, (f"touch {_Exploit.marker}",)


def _malicious(path: Path, zipped: bool) -> Path:
    if zipped:
        torch.save({"weights": _Exploit()}, path)
    else:
        path.write_bytes(pickle.dumps(_Exploit()))
    return path


def _nan_weights(path: Path, tiny_model) -> Path:
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    torch.save(state, path)
    return path


BAD_CHECKPOINTS = {
    # id: (make(tmp, model) -> spec, fragment)
    "nan-weights": (lambda t, m: _nan_weights(t / "nan.pth", m), "NaN or infinite values"),
    "malicious-plain-pickle": (lambda t, m: _malicious(t / "evil.pth", False), "would execute pickled code"),
    "malicious-torch-zip": (lambda t, m: _malicious(t / "evil.pt", True), "would execute pickled code"),
    "text-file": (
        lambda t, m: (t / "t.pth").write_text("hello") and t / "t.pth",
        "not a PyTorch checkpoint",
    ),
    "truncated-zip": (
        lambda t, m: (t / "cut.pth").write_bytes(b"PK\x03\x04" + b"\x00" * 50) and t / "cut.pth",
        "truncated or corrupt",
    ),
    "list-of-tensors": (
        lambda t, m: torch.save([torch.zeros(2)], t / "l.pth") or t / "l.pth",
        "does not hold a state dict",
    ),
    "sam-vit-checkpoint": (
        lambda t, m: (
            torch.save({"image_encoder.pos_embed": torch.zeros(1, 64, 64, 768)}, t / "v.pth") or t / "v.pth"
        ),
        "not TinySAM",
    ),
    "folder": (lambda t, m: t, "is a directory"),
    "sha-fragment-typo": (lambda t, m: "https://example.invalid/x.pth#sha=abc", "not understood"),
    "short-sha256-fragment": (lambda t, m: "https://example.invalid/x.pth#sha256=abc", "64 hex digits"),
}


@pytest.mark.parametrize("case", BAD_CHECKPOINTS, ids=list(BAD_CHECKPOINTS))
def test_bad_checkpoints_are_refused_with_our_message(case, tmp_path, tiny_model, capsys):
    make, fragment = BAD_CHECKPOINTS[case]
    _Exploit.marker = tmp_path / "pwned"
    (tmp_path / "in").mkdir()
    spec = make(tmp_path / "in", tiny_model)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(spec if isinstance(spec, str) else Path(spec), TINY)
    assert fragment in str(info.value) and "weights_only=False" not in str(info.value)
    out = tmp_path / "o.png"
    argv = [PHOTO, "--point", "1,1", "--out", out, "--checkpoint", spec, "--model-config", "tiny-test"]
    outcome = run_cli(segment.main, argv, capsys)
    assert_refused(outcome, fragment)
    assert "weights_only=False" not in outcome.err
    assert not out.exists() and not _Exploit.marker.exists()


def test_load_checkpoint_takes_a_path_and_checks_the_config(tiny_checkpoint):
    assert not load_checkpoint(Path(tiny_checkpoint), TINY).untrained
    assert not load_checkpoint(str(tiny_checkpoint), TINY).untrained
    with pytest.raises(CheckpointError):
        load_checkpoint(Path(tiny_checkpoint), TINYSAM)  # tiny weights into the full model
    with pytest.raises(CheckpointError, match="path, URL or name"):
        load_checkpoint(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- manifests --------------------


def _fake_bundle(out: Path, model, max_points: int = 4) -> Path:
    out.mkdir()
    for role in ("encoder", "decoder"):
        (out / f"{role}.pte").write_bytes(role.encode())
    manifest = build_manifest(
        target="executorch",
        recipe={"name": "fp32"},
        contract=io_contract(model, max_points),
        encoder=out / "encoder.pte",
        decoder=out / "decoder.pte",
        model={"config": "tiny-test", "untrained": True},
        parity=None,
        tools={},
    )
    write_manifest(out, manifest)
    return out


def _io(m: dict, name: str) -> dict:
    return next(s for key in ("decoder_inputs", "decoder_outputs") for s in m["io"][key] if s["name"] == name)


def _set(m: dict, path: str, value: object) -> dict:
    """``m`` with the field at ``path`` (dotted keys; ``io:NAME`` for a tensor spec) set."""
    *keys, last = path.split(".")
    node = m
    for key in keys:
        node = _io(m, key[3:]) if key.startswith("io:") else node[key]
    node[last] = value
    return m


def _points_8(m: dict) -> dict:
    m["io"]["max_points"] = 8
    return m


BROKEN_MANIFESTS = {
    # id: (edit(manifest dict) -> JSON-able, or bytes for the raw file; fragment)
    "bad-json": (lambda m: b'{"schema_version": 2,', "is not valid JSON"),
    "not-utf8": (lambda m: b"\xff\xfe\x00{", "is not valid JSON"),
    "a-list": (lambda m: [m], "JSON list, not an object"),
    "missing-artifacts": (lambda m: {k: v for k, v in m.items() if k != "artifacts"}, "artifacts is missing"),
    "artifacts-a-list": (lambda m: _set(m, "artifacts", [1, 2]), "artifacts is missing or not an object"),
    "missing-decoder": (lambda m: _set(m, "artifacts.decoder", None), "artifacts.decoder is missing"),
    "file-outside-bundle": (lambda m: _set(m, "artifacts.encoder.file", "../x.pte"), "a file name inside"),
    "sha256-not-hex": (lambda m: _set(m, "artifacts.encoder.sha256", "xyz"), "64 lowercase hex"),
    "bytes-negative": (lambda m: _set(m, "artifacts.decoder.bytes", -1), "non-negative integer"),
    "max-points-string": (
        lambda m: _set(m, "io.max_points", "4"),
        "io.max_points must be a positive integer",
    ),
    "max-points-zero": (lambda m: _set(m, "io.max_points", 0), "io.max_points must be a positive integer"),
    "max-points-float": (lambda m: _set(m, "io.max_points", 4.0), "io.max_points must be a positive integer"),
    "max-points-not-the-shapes": (_points_8, "point_coords has shape [1, 4, 2], expected [1, 8, 2]"),
    "decoder-batch-missing": (lambda m: _set(m, "io.decoder_batch", None), "io.decoder_batch"),
    "io-missing": (lambda m: {k: v for k, v in m.items() if k != "io"}, "io is missing"),
    "io-names-renamed": (lambda m: _set(m, "io:point_labels.name", "labels"), "the contract's are"),
    "io-dtype-float16": (lambda m: _set(m, "io:mask_input.dtype", "float16"), "dtype must be float32"),
    "io-shape-negative": (lambda m: _set(m, "io:iou_predictions.shape", [1, -3]), "positive integers"),
    "unknown-target": (lambda m: _set(m, "target", "onnx"), "target 'onnx' is not one of"),
    "model-missing": (lambda m: {k: v for k, v in m.items() if k != "model"}, "model is missing"),
    "recipe-a-string": (lambda m: _set(m, "recipe", "fp32"), "recipe is missing"),
    "schema-version-missing": (
        lambda m: {k: v for k, v in m.items() if k != "schema_version"},
        "schema_version",
    ),
}


@pytest.mark.parametrize("case", BROKEN_MANIFESTS, ids=list(BROKEN_MANIFESTS))
def test_broken_manifests_are_refused_naming_the_mismatch(case, tmp_path, tiny_model):
    edit, fragment = BROKEN_MANIFESTS[case]
    bundle = _fake_bundle(tmp_path / "b", tiny_model)
    edited = edit(json.loads((bundle / "manifest.json").read_text()))
    raw = edited if isinstance(edited, bytes) else json.dumps(edited).encode()
    (bundle / "manifest.json").write_bytes(raw)
    with pytest.raises(ValueError) as info:
        read_manifest(bundle)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_missing_program_is_named(tmp_path, tiny_model):
    bundle = _fake_bundle(tmp_path / "b", tiny_model)
    (bundle / "decoder.pte").unlink()
    with pytest.raises(BundleError, match="the decoder program decoder.pte is missing"):
        read_manifest(bundle)


@pytest.mark.parametrize("case", ["bad-json", "a-list", "max-points-string"])
def test_segment_with_a_broken_bundle_is_one_line(case, tmp_path, tiny_model, capsys):
    edit, fragment = BROKEN_MANIFESTS[case]
    bundle = _fake_bundle(tmp_path / "b", tiny_model)
    edited = edit(json.loads((bundle / "manifest.json").read_text()))
    (bundle / "manifest.json").write_bytes(
        edited if isinstance(edited, bytes) else json.dumps(edited).encode()
    )
    before = snapshot(tmp_path)
    argv = [PHOTO, "--point", "1,1", "--out", tmp_path / "o.png", "--bundle", bundle, *TINY_ARGS]
    assert_refused(run_cli(segment.main, argv, capsys), "cannot open bundle", fragment)
    assert snapshot(tmp_path) == before


def test_convert_does_not_replace_a_folder_with_a_broken_manifest(tmp_path, tiny_model, capsys):
    bundle = _fake_bundle(tmp_path / "b", tiny_model)
    (bundle / "manifest.json").write_text("[]")
    before = snapshot(tmp_path)
    argv = ["--out", bundle, "--overwrite", "--target", "executorch", "--recipe", "fp32", *TINY_ARGS]
    assert_refused(run_cli(convert.main, argv, capsys), "not a bundle")
    assert snapshot(tmp_path) == before


class _FakeRuntime(ProgramRuntime):
    """Programs whose real decoder takes ``slots`` points and, unless ``iou``, lacks that output."""

    def __init__(self, slots: int, iou: bool = True) -> None:
        super().__init__(slots)
        self.slots, self.iou = slots, iou

    def io_shapes(self, program: str):
        if program == "encoder":
            return {"image": (1, 3, 1024, 1024)}, {"image_embeddings": (1, 32, 64, 64)}
        inputs = {
            "image_embeddings": (1, 32, 64, 64),
            "point_coords": (-1, self.slots, 2),  # a dynamic prompt axis
            "point_labels": (-1, self.slots),
            "mask_input": (1, 1, 256, 256),
            "has_mask_input": (1,),
        }
        outputs = {"low_res_masks": (1, 3, 256, 256), **({"iou_predictions": (1, 3)} if self.iou else {})}
        return inputs, outputs


@pytest.mark.parametrize(
    "manifest_points,runtime,fragment",
    [
        (8, _FakeRuntime(4), "decoder input point_coords: manifest [1, 8, 2], program [-1, 4, 2]"),
        (4, _FakeRuntime(4, iou=False), "the decoder program has no output iou_predictions"),
    ],
    ids=["max-points-not-the-program", "program-lacks-an-output"],
)
def test_manifest_is_checked_against_the_programs(
    manifest_points, runtime, fragment, tmp_path, tiny_model, monkeypatch
):
    bundle = _fake_bundle(tmp_path / "b", tiny_model, manifest_points)

    monkeypatch.setattr("tinysam_mobile.bundle.open.runtime_class", lambda name: lambda *a, **k: runtime)
    with pytest.raises(BundleError) as info:
        open_bundle(bundle)
    assert fragment in str(info.value) and "does not describe its programs" in str(info.value)
    if manifest_points == 4 and runtime.iou:
        assert open_bundle(bundle) is runtime


@pytest.fixture(scope="module")
def broken_model(tiny_model):
    """The tiny model with NaN weights in memory (as a broken bundle's programs would answer)."""
    model = copy.deepcopy(tiny_model)
    with torch.no_grad():
        next(model.mask_decoder.parameters()).fill_(float("nan"))
    return model


def test_predictor_refuses_a_nan_answer(broken_model):
    predictor = Predictor(broken_model)
    predictor.set_image(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(BrokenModelError, match="answered NaN or infinite values"):
        predictor.predict(point_coords=[[1, 1]], point_labels=[1])


@pytest.mark.parametrize("command", [segment, everything], ids=["segment", "everything"])
def test_commands_refuse_a_nan_answer_and_write_nothing(command, broken_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "runtime_from_args", lambda args: TorchRuntime(broken_model))
    photo = tmp_path / "small.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    before = snapshot(tmp_path)
    if command is segment:
        argv = [photo, "--point", "1,1", "--out", tmp_path / "o.png", *TINY_ARGS]
    else:
        argv = [photo, "--out", tmp_path / "o.png", "--json", tmp_path / "m.json", "--points-per-side", "2"]
    assert_refused(run_cli(command.main, argv, capsys), "answered NaN or infinite values")
    assert snapshot(tmp_path) == before


def test_a_web_page_at_a_checkpoint_url_is_never_cached(tmp_path):
    (tmp_path / "page.pth").write_text("<!doctype html><html><body>Sign in</body></html>")
    server = _Server(tmp_path)
    try:
        with pytest.raises(CheckpointError, match="answered with a web page"):
            load_checkpoint(server.url("page.pth"), TINY)
        assert not [p for p in cache_dir().rglob("*") if p.is_file()]
        (tmp_path / "page.pth").unlink()  # the URL now answers 404: no stale page is reused
        with pytest.raises(CheckpointError, match="could not download.*404"):
            load_checkpoint(server.url("page.pth"), TINY)
    finally:
        server.close()


def test_a_cached_download_changed_later_is_refused(tiny_checkpoint, capsys):
    server = _Server(tiny_checkpoint.parent)
    try:
        url = server.url(tiny_checkpoint.name)
        load_checkpoint(url, TINY)  # no sha256 published: trust on first download
        assert "recorded" in capsys.readouterr().err
        cached = resolve_path(url)
        cached.write_bytes(cached.read_bytes() + b"\0")
        with pytest.raises(CheckpointError, match="it was changed"):
            load_checkpoint(url, TINY)
        assert len(server.requests) == 1
    finally:
        server.close()


@pytest.fixture(scope="module")
def real_bundle(tiny_bundle_factory) -> Path:
    """A real LiteRT fp32 bundle of the tiny model with 4 slots (the cheapest target to build)."""
    return tiny_bundle_factory("tflite")


def test_real_programs_are_checked_against_the_manifest(real_bundle, tmp_path):
    assert open_bundle(real_bundle).max_points == 4
    bundle = tmp_path / "b"
    shutil.copytree(real_bundle, bundle)
    manifest = _points_8(json.loads((bundle / "manifest.json").read_text()))
    _set(manifest, "io:point_coords.shape", [1, 8, 2])
    _set(manifest, "io:point_labels.shape", [1, 8])
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"point_coords: manifest \[1, 8, 2\], program \[1, 4, 2\]"):
        open_bundle(bundle)


@pytest.mark.parametrize(
    "prompt,fragment",
    [
        (["--point", "1,1"] * 4, "4 points + the official not-a-point token"),
        (["--point", "1,1"] * 3 + ["--box", "0,0,9,9"], "3 points + 2 box corners"),
    ],
    ids=["4-points-on-4-slots", "3-points-and-a-box-on-4-slots"],
)
def test_too_many_points_for_the_bundle_is_refused_before_encoding(
    prompt, fragment, real_bundle, tmp_path, capsys
):
    argv = [PHOTO, *prompt, "--out", tmp_path / "o.png", "--bundle", real_bundle]
    outcome = run_cli(segment.main, argv, capsys)
    assert_refused(outcome, fragment, "prompt has 5 slots", "takes at most 4")
    assert "encode" not in outcome.out and list(tmp_path.iterdir()) == []
