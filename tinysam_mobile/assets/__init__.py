"""Bundled data: sample photos (calibration, parity checks, tests, demos) and shipped weights."""

from __future__ import annotations

from pathlib import Path

PHOTO_DIR = Path(__file__).parent / "photos"
WEIGHTS_DIR = Path(__file__).parent / "weights"


def bundled_photos() -> list[Path]:
    """The bundled sample photos (from the TinySAM repository, Apache-2.0), sorted by name."""
    return sorted(PHOTO_DIR.glob("*.jpg"))
