"""Bundled data: sample photos (calibration, parity checks, tests, demos), the shipped weights and
the generated scenes the shipped model was trained on (with their ground truth)."""

from __future__ import annotations

from pathlib import Path

PHOTO_DIR = Path(__file__).parent / "photos"
WEIGHTS_DIR = Path(__file__).parent / "weights"
SCENE_DIR = Path(__file__).parent / "scenes"
SCENE_ANNOTATIONS = SCENE_DIR / "annotations.json"


def bundled_photos() -> list[Path]:
    """The bundled sample photos (from the TinySAM repository, Apache-2.0), sorted by name."""
    return sorted(PHOTO_DIR.glob("*.jpg"))


def sample_images() -> list[Path]:
    """The bundled images in the order parity checks and calibration take them: the scenes and
    the photos alternating, a scene first (``scene_0, picture1, scene_1, picture2, ...``), so any
    prefix holds both the model's own kind of image and real photos."""
    scenes, photos = bundled_scenes(), bundled_photos()
    mixed = [p for pair in zip(scenes, photos, strict=False) for p in pair]
    n = min(len(scenes), len(photos))
    return mixed + scenes[n:] + photos[n:]


def bundled_scenes() -> list[Path]:
    """The generated scenes ``tinysam-synthetic`` was trained on (``scene_K.jpg``, in pool order);
    their whole objects are in :data:`SCENE_ANNOTATIONS` (COCO instances)."""
    return sorted((SCENE_DIR / "images").glob("scene_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
