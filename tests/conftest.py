"""Shared fixtures: seeded untrained models (tiny and full size), checkpoints, real photos."""

from __future__ import annotations

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--nightly"):
        return
    skip = pytest.mark.skip(reason="nightly: too long for CI; run with --nightly")
    for item in items:
        if "nightly" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model() -> Sam:
    return build_untrained(TINY, seed=0)


@pytest.fixture(scope="session")
def full_model() -> Sam:
    return build_untrained(TINYSAM, seed=0)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return load_photo("picture1.jpg")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_model: Sam) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_official_layout(tiny_model, path)
    return path


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
