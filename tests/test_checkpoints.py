"""Checkpoint resolution and loading: every error case, and the URL path on a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import sys
import threading
import types
from pathlib import Path

import pytest
import torch

from tinysam_mobile.checkpoints import (
    KNOWN_CHECKPOINTS,
    CheckpointError,
    cache_dir,
    load_checkpoint,
    resolve_path,
)
from tinysam_mobile.modeling import TINY, TINYSAM


def test_loads_official_layout_strictly(full_checkpoint, full_model):
    loaded = load_checkpoint(str(full_checkpoint), TINYSAM)
    assert not loaded.untrained
    assert loaded.sha256 == hashlib.sha256(full_checkpoint.read_bytes()).hexdigest()
    for key, value in full_model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key


def test_unwraps_model_key(tmp_path, tiny_model):
    path = tmp_path / "wrapped.pth"
    torch.save({"model": tiny_model.state_dict(), "epoch": 3}, path)
    assert load_checkpoint(str(path), TINY).sha256


def test_untrained_with_seed():
    a = load_checkpoint("untrained:7", TINY)
    b = load_checkpoint("untrained:7", TINY)
    assert a.untrained
    assert torch.equal(a.model.mask_decoder.iou_token.weight, b.model.mask_decoder.iou_token.weight)


def test_missing_file():
    with pytest.raises(CheckpointError, match="does not exist.*tinysam-42.3"):
        load_checkpoint("/nonexistent/tinysam.pth")


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("this is not a checkpoint\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(str(path), TINY)


def test_truncated_file(tmp_path, tiny_checkpoint):
    path = tmp_path / "truncated.pth"
    data = tiny_checkpoint.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(str(path), TINY)


@pytest.mark.parametrize("dim,name", [(768, "SAM ViT-B"), (1024, "SAM ViT-L"), (1280, "SAM ViT-H")])
def test_sam_vit_checkpoint_is_named(tmp_path, dim, name):
    path = tmp_path / "sam.pth"
    torch.save(
        {
            "image_encoder.pos_embed": torch.zeros(1, 64, 64, dim),
            "image_encoder.blocks.0.attn.qkv.weight": torch.zeros(3 * dim, dim),
            "mask_decoder.iou_token.weight": torch.zeros(1, 256),
        },
        path,
    )
    with pytest.raises(CheckpointError, match=f"is {name}, not TinySAM"):
        load_checkpoint(str(path))


def test_pickled_w8a8_module_is_refused(tmp_path, monkeypatch):
    """A stand-in for tinysam_w8a8.pth: a whole module whose class lives in ``quantization_layer``."""
    package = types.ModuleType("quantization_layer")
    layers = types.ModuleType("quantization_layer.layers")

    class InferQuantLinear(torch.nn.Linear):
        pass

    InferQuantLinear.__module__ = "quantization_layer.layers"
    InferQuantLinear.__qualname__ = "InferQuantLinear"
    layers.InferQuantLinear = InferQuantLinear
    monkeypatch.setitem(sys.modules, "quantization_layer", package)
    monkeypatch.setitem(sys.modules, "quantization_layer.layers", layers)
    path = tmp_path / "tinysam_w8a8.pth"
    torch.save(torch.nn.Sequential(InferQuantLinear(2, 2)), path)
    with pytest.raises(CheckpointError, match="tinysam_w8a8.pth.*quant recipes"):
        load_checkpoint(str(path))


def test_other_pickled_module_is_refused(tmp_path, tiny_model):
    path = tmp_path / "module.pth"
    torch.save(tiny_model, path)
    with pytest.raises(CheckpointError, match="pickled Python object.*state_dict"):
        load_checkpoint(str(path), TINY)


def test_key_diff_is_short_and_readable(tmp_path, tiny_model):
    state = dict(tiny_model.state_dict())
    for key in list(state)[:7]:
        del state[key]
    state["image_encoder.extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(path), TINY)
    message = str(info.value)
    assert "7 missing keys" in message and "(+2 more)" in message
    assert "1 unexpected keys: image_encoder.extra.weight" in message


def test_shape_mismatch_is_reported(full_checkpoint):
    with pytest.raises(CheckpointError, match="shape of"):
        load_checkpoint(str(full_checkpoint), TINY)


class _Server:
    """A loopback HTTP server over a directory that counts requests."""

    def __init__(self, root: Path) -> None:
        counts: list[str] = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                counts.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.requests = counts
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tiny_checkpoint):
    srv = _Server(tiny_checkpoint.parent)
    yield srv
    srv.close()


def test_url_download_then_cache_hit(server, tiny_checkpoint, capsys):
    sha = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    url = f"{server.url(tiny_checkpoint.name)}#sha256={sha}"
    first = load_checkpoint(url, TINY)
    assert "downloading tiny.pth" in capsys.readouterr().err
    second = load_checkpoint(url, TINY)
    assert len(server.requests) == 1  # the second load came from the cache
    assert first.sha256 == second.sha256 == sha
    assert str(resolve_path(url)).startswith(str(cache_dir()))


def test_url_hash_mismatch_leaves_nothing(server, tiny_checkpoint):
    url = f"{server.url(tiny_checkpoint.name)}#sha256={'0' * 64}"
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_checkpoint(url, TINY)
    assert not [p for p in cache_dir().rglob("*") if p.is_file()]


def test_url_not_found(server):
    with pytest.raises(CheckpointError, match="could not download.*404"):
        load_checkpoint(server.url("missing.pth"), TINY)


def test_known_name_uses_its_url(monkeypatch, tmp_path, tiny_checkpoint):
    seen = []

    def fake_download(url, sha256=None):
        seen.append(url)
        return tiny_checkpoint

    monkeypatch.setattr("tinysam_mobile.checkpoints.download", fake_download)
    load_checkpoint("tinysam-42.3", TINY)
    assert seen == [KNOWN_CHECKPOINTS["tinysam-42.3"].url]
