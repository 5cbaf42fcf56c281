"""Shared fixtures: seeded untrained models (tiny and full size), checkpoints, real photos."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.assets import PHOTO_DIR as ASSETS
from tinysam_mobile.checkpoints import save_official_layout
from tinysam_mobile.modeling import TINY, TINYSAM, Sam, build_untrained

PHOTOS = ("picture1.jpg", "picture2.jpg", "picture3.jpg")


def load_photo(name: str) -> np.ndarray:
    """A test photo as ``H x W x 3`` uint8 RGB."""
    return np.asarray(Image.open(ASSETS / name).convert("RGB"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--nightly", action="store_true", help="also run the nightly tests (too long for CI)")


# backend / toolchain marker of a test file (parametrized tests take their ``target`` instead)
FILE_MARKERS = {
    "test_coreml.py": "coreml",
    "test_mil_interpreter.py": "coreml",
    "test_coreai.py": "coreai",
    "test_litert.py": "tflite",
    "test_golden.py": "kotlin",
    "test_swift_core.py": "swift",
}
# the module a backend marker needs; without it the test is skipped with the set-up to run
BACKEND_MODULES = {
    "coreml": "coremltools",
    "coreai": "coreai",
    "executorch": "executorch",
    "tflite": "litert_torch",
}


def _backend_marker(item: pytest.Item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params.get("target") in BACKEND_MODULES:
        return params["target"]
    return FILE_MARKERS.get(item.path.name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    nightly = config.getoption("--nightly")
    skip_nightly = pytest.mark.skip(reason="nightly: too long for CI; run with --nightly")
    for item in items:
        marker = _backend_marker(item)
        if marker is not None:
            item.add_marker(getattr(pytest.mark, marker))
            module = BACKEND_MODULES.get(marker)
            if module is not None and importlib.util.find_spec(module) is None:
                reason = f"{module} is not installed (bash scripts/bootstrap.sh {marker})"
                item.add_marker(pytest.mark.skip(reason=reason))
        if "nightly" in item.keywords and not nightly:
            item.add_marker(skip_nightly)


@pytest.fixture(scope="session")
def tiny_model() -> Sam:
    return build_untrained(TINY, seed=0)


@pytest.fixture(scope="session")
def full_model() -> Sam:
    return build_untrained(TINYSAM, seed=0)


@pytest.fixture(scope="session")
def synthetic_model() -> Sam:
    """The shipped trained TinySAM (``tinysam-synthetic``): full-size runs whose quality contracts
    judge, because its masks mean something on the bundled scenes."""
    from tinysam_mobile.checkpoints import load_checkpoint

    return load_checkpoint("tinysam-synthetic").model


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return load_photo("picture1.jpg")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_model: Sam) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_official_layout(tiny_model, path)
    return path


@pytest.fixture(scope="session")
def tiny_bundle_factory(tmp_path_factory: pytest.TempPathFactory, tiny_model: Sam) -> Callable[[str], Path]:
    """``factory(target)``: a real fp32 bundle of the tiny model with 4 slots, no parity, built
    once per session and target (shared by the tests that only need one to exist)."""
    from tinysam_mobile.toolchain.build import build_bundle

    built: dict[str, Path] = {}

    def factory(target: str) -> Path:
        if target not in built:
            out = tmp_path_factory.mktemp(f"bundle-{target}") / "bundle"
            build_bundle(tiny_model, target, "fp32", out, max_points=4, parity=False, progress=lambda _: None)
            built[target] = out
        return built[target]

    return factory


@pytest.fixture(scope="session")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory, full_model: Sam) -> Path:
    """A seeded untrained TinySAM saved exactly like the official ``tinysam.pth``."""
    path = tmp_path_factory.mktemp("ckpt") / "tinysam.pth"
    save_official_layout(full_model, path)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads in tests never touch the user's cache."""
    monkeypatch.setenv("TINYSAM_CACHE", str(tmp_path / "cache"))
