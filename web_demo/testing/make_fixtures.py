"""Write web_demo/testing/pillow_resize.json: Pillow resizes whose pass order matters.

    .venv/bin/python web_demo/testing/make_fixtures.py

tests/golden has no resize where Pillow (13 and later) runs the vertical pass first, so the web
core's pass-order rule is pinned here, on the Pillow the project installs; tests/test_web_demo.py
checks the file is what this script writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).with_name("pillow_resize.json")
# (h, w) -> (h', w'): tall shrinks (vertical pass first), their transposes and a mixed case
CASES = [
    ((60, 7), (20, 5)),
    ((7, 60), (5, 20)),
    ((30, 30), (8, 29)),
    ((30, 30), (15, 60)),
    ((33, 9), (8, 12)),
]


def _passes(image: Image.Image, size: tuple[int, int], vertical_first: bool) -> np.ndarray:
    """Pillow's resize as two one-axis resizes in the given order."""
    (h, w), (nh, nw) = (image.height, image.width), size
    step = (w, nh) if vertical_first else (nw, h)
    return np.asarray(
        image.resize(step, Image.Resampling.BILINEAR).resize((nw, nh), Image.Resampling.BILINEAR)
    )


def build() -> list[dict]:
    rng = np.random.default_rng(24)
    out = []
    for (h, w), (nh, nw) in CASES:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        expected = np.asarray(image.resize((nw, nh), Image.Resampling.BILINEAR))
        vertical_first = bool(np.array_equal(expected, _passes(image, (nh, nw), True)))
        horizontal_first = bool(np.array_equal(expected, _passes(image, (nh, nw), False)))
        assert vertical_first != horizontal_first, f"{(h, w)} -> {(nh, nw)} does not tell the orders apart"
        out.append(
            {
                "size": [h, w],
                "new_size": [nh, nw],
                "vertical_first": vertical_first,
                "pixels_hwc": pixels.ravel().tolist(),
                "expected_hwc": expected.ravel().tolist(),
            }
        )
    return out


def main() -> None:
    OUT.write_text(json.dumps(build()) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
