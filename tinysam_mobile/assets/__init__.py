"""Bundled data: sample photos used for calibration, parity checks, tests and demos."""

from __future__ import annotations

from pathlib import Path

PHOTO_DIR = Path(__file__).parent / "photos"


def bundled_photos() -> list[Path]:
    """The bundled sample photos (from the TinySAM repository, Apache-2.0), sorted by name."""
    return sorted(PHOTO_DIR.glob("*.jpg"))
