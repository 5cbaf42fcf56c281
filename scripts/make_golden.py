"""Write tests/golden/*.json: reference answers the app cores (Kotlin, Swift) must reproduce.

    .venv/bin/python scripts/make_golden.py [--out tests/golden]

Every value comes from the Python reference implementation (transforms, prompt packing, mask
upscaling, everything-mode pieces). ``tests/test_golden.py`` checks the checked-in files are what
this script writes, then compiles and runs the Kotlin core's JUnit suite against them;
``tests/test_swift_core.py`` runs the Swift core's XCTest suite against the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile import contract, mask_ops, transforms
from tinysam_mobile.everything import EverythingConfig, low_res_cells, point_grid
from tinysam_mobile.export import io_contract
from tinysam_mobile.manifest import artifact_entry, build_manifest
from tinysam_mobile.modeling import TINY, build_untrained
from tinysam_mobile.oracle import OracleRuntime, synthetic_scene
from tinysam_mobile.prompts import PromptBatch, pack_prompt

SIZES = [(770, 769), (480, 640), (1024, 1024), (7, 10), (1, 5000), (5000, 1), (333, 2000)]


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, np.float64).ravel()]


def low_res_pattern() -> np.ndarray:
    """The 256 x 256 low-res logits the mask vectors start from (the cores compute the same formula)."""
    i, j = np.mgrid[: contract.LOW_RES_SIZE, : contract.LOW_RES_SIZE].astype(np.float64)
    return (8 * np.sin(0.11 * i + 0.3) * np.cos(0.07 * j) + 2 * np.sin(0.05 * (i + j)) - 1).astype(np.float32)


def transform_vectors() -> dict:
    rng = np.random.default_rng(0)
    coords, boxes = [], []
    for h, w in SIZES:
        points = rng.uniform(0, 1, (3, 2)) * [w, h]
        coords.append(
            {
                "size": [h, w],
                "points": points.tolist(),
                "expected": transforms.transform_coords(points, (h, w)).tolist(),
            }
        )
        box = np.array([0.1 * w, 0.2 * h, 0.9 * w, 0.7 * h])
        boxes.append(
            {
                "size": [h, w],
                "box": box.tolist(),
                "expected": transforms.transform_boxes(box, (h, w))[0].tolist(),
            }
        )
    resize = []
    for (h, w), (nh, nw) in [
        ((40, 30), (17, 13)),
        ((7, 5), (19, 13)),
        ((33, 50), (33, 21)),
        ((9, 64), (3, 20)),
    ]:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
        resize.append(
            {
                "size": [h, w],
                "new_size": [nh, nw],
                "pixels_hwc": image.ravel().tolist(),
                "expected_hwc": out.ravel().tolist(),
            }
        )
    pixels = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    normalized = transforms.normalize_and_pad(pixels)
    return {
        "preprocess_shape": [
            {"size": [h, w], "expected": list(transforms.preprocess_shape(h, w))} for h, w in SIZES
        ],
        "transform_coords": coords,
        "resize_bilinear": resize,
        "transform_box": boxes,
        "normalize": {
            "height": 3,
            "width": 4,
            "pixels_hwc": pixels.ravel().tolist(),
            "expected_chw": _floats(normalized[0, :, :3, :4]),
            "padding_is_zero": bool(
                np.all(normalized[0, :, 3:, :] == 0) and np.all(normalized[0, :, :, 4:] == 0)
            ),
        },
    }


def prompt_vectors() -> list[dict]:
    cases = [
        ([[10.5, 20.0]], [1], None),
        ([[1, 2], [3, 4], [5, 6]], [1, 0, 1], None),
        (None, None, [10, 20, 300, 400]),
        ([[50, 60]], [1], [10, 20, 300, 400]),
        ([[1, 1]] * 5, [1, 0, 1, 0, 1], [0, 0, 9, 9]),
        ([[2, 3]] * 8, [1] * 8, None),
    ]
    out = []
    for points, labels, box in cases:
        coords, packed = pack_prompt(
            None if points is None else np.array(points, float),
            None if labels is None else np.array(labels, float),
            None if box is None else np.array(box, float),
        )
        batch = PromptBatch(coords[None], packed[None])
        case = {"points": points, "labels": labels, "box": box, "max_points": 8}
        try:
            padded = batch.padded_to(8)
            case.update(coords=_floats(padded.coords), packed_labels=_floats(padded.labels))
        except ValueError:
            case.update(error="too many points")
        out.append(case)
    return out


def mask_vectors() -> list[dict]:
    low = torch.from_numpy(low_res_pattern())[None, None]
    out = []
    for h, w in [(30, 40), (41, 23), (7, 10)]:
        input_size = transforms.preprocess_shape(h, w)
        logits = transforms.upscale_logits(low, input_size, (h, w))[0, 0].numpy()
        mask = logits > 0
        out.append(
            {
                "size": [h, w],
                "logits": _floats(logits),
                "mask": "".join("1" if v else "0" for v in mask.ravel()),
            }
        )
    return out


def everything_vectors() -> dict:
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 40, (12, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(10, 40, (12, 2))], axis=1)
    order = rng.permutation(12)
    stability_logits = rng.normal(0, 3, (3, 6, 5)).astype(np.float32)
    scene = synthetic_scene(120, 160, 0)
    runtime = OracleRuntime(scene)
    config = EverythingConfig()
    sparse = point_grid(config.sparse_points_per_side) * [160, 120]
    frame = transforms.transform_coords(sparse, scene.size)
    packed = [pack_prompt(p[None], np.array([1.0]), None) for p in frame]
    low, iou = runtime.decode(
        None, PromptBatch(np.stack([c for c, _ in packed]), np.stack([lab for _, lab in packed]))
    )
    low_h, low_w = (-(-s // 4) for s in transforms.preprocess_shape(*scene.size))
    confident = low.reshape(-1, 256, 256)[iou.reshape(-1) > config.pred_iou_thresh, :low_h, :low_w]
    high = (confident > config.high_score_thresh).any(0)
    dense = point_grid(config.points_per_side) * [160, 120]
    outside = np.flatnonzero(~high[low_res_cells(dense, scene.size)])
    return {
        "point_grid": {str(n): _floats(point_grid(n)) for n in (1, 3, 4)},
        "nms": [
            {
                "boxes": boxes.tolist(),
                "order": order.tolist(),
                "threshold": t,
                "kept": mask_ops.nms(boxes, order, t).tolist(),
            }
            for t in (0.0, 0.3, 0.5)
        ],
        "stability": {
            "shape": list(stability_logits.shape),
            "logits": _floats(stability_logits),
            "threshold": 0.0,
            "offset": 1.0,
            "expected": _floats(mask_ops.stability_scores(stability_logits)),
        },
        "hierarchical_skip": {
            "size": list(scene.size),
            "points_per_side": config.points_per_side,
            "high_map": {
                "rows": low_h,
                "cols": low_w,
                "bits": "".join("1" if v else "0" for v in high.ravel()),
            },
            "decoded_in_round_two": outside.tolist(),
        },
    }


def manifest_vector() -> dict:
    model = build_untrained(TINY, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        encoder, decoder = Path(tmp) / "encoder.tflite", Path(tmp) / "decoder.tflite"
        encoder.write_bytes(b"encoder program")
        decoder.write_bytes(b"decoder program")
        return build_manifest(
            target="tflite",
            recipe={"name": "fp32", "target": "tflite"},
            contract=io_contract(model, 8),
            encoder=encoder,
            decoder=decoder,
            model={
                "config": "tiny-test",
                "checkpoint": "untrained:0",
                "checkpoint_sha256": None,
                "untrained": True,
            },
            parity=None,
            tools={"example-tool": "1.0"},
        )


PACKAGE_FILES = {
    "Manifest.json": '{"fileFormatVersion": "1.0.0"}',
    "Data/com.apple.CoreML/model.mlmodel": "program",
    "Data/com.apple.CoreML/weights/weight.bin": "weights " * 20000,
    "Data-extra.txt": "sorts after Data/ by path components, before it as a plain string",
}


def integrity_vectors() -> dict:
    """SHA-256 of a few byte strings and the manifest digest of a directory program (.mlpackage)."""
    texts = ["", "abc", "a" * 55, "a" * 56, "a" * 64, "tinysam " * 1000]
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "encoder.mlpackage"
        for relative, text in PACKAGE_FILES.items():
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            (package / relative).write_text(text)
        entry = artifact_entry(package)
    return {
        "sha256": [{"text": t, "hex": hashlib.sha256(t.encode()).hexdigest()} for t in texts],
        "package": {"name": "encoder.mlpackage", "files": PACKAGE_FILES, **entry},
    }


def build_vectors() -> dict[str, object]:
    """File name -> JSON content."""
    return {
        "transforms.json": transform_vectors(),
        "prompts.json": prompt_vectors(),
        "masks.json": mask_vectors(),
        "everything.json": everything_vectors(),
        "manifest.json": manifest_vector(),
        "integrity.json": integrity_vectors(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/golden"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in build_vectors().items():
        (args.out / name).write_text(json.dumps(content, indent=1) + "\n")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
