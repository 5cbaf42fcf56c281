"""Write tests/golden/*.json: reference answers the app cores (Kotlin, Swift) must reproduce.

    .venv/bin/python scripts/make_golden.py [--out tests/golden]

Every value comes from the Python reference implementation (transforms, prompt packing, the
decoder calls of ``decoder_feeds``, mask upscaling, everything-mode pieces). Large float arrays are
given as the SHA-256 of their float32 little-endian bytes (``*_sha256``), so the cores must match
them bit for bit. ``tests/test_golden.py`` checks the checked-in files are what
this script writes, then compiles and runs the Kotlin core's JUnit suite against them;
``tests/test_swift_core.py`` runs the Swift core's XCTest suite against the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile import contract, mask_ops, transforms
from tinysam_mobile.automatic_mask_generator import (
    AutoMaskGenerator,
    EverythingConfig,
    low_res_cells,
    point_grid,
)
from tinysam_mobile.bundle.manifest import artifact_entry, build_manifest
from tinysam_mobile.contract import DECODER_OUTPUTS, ENCODER_OUTPUTS
from tinysam_mobile.modeling import TINY, build_untrained
from tinysam_mobile.prompts import PromptBatch, pack_prompt
from tinysam_mobile.runtimes.base import Feed, ProgramRuntime, decoder_feeds
from tinysam_mobile.testing.oracle import OracleRuntime, Scene, synthetic_scene
from tinysam_mobile.toolchain.export import io_contract

SIZES = [(770, 769), (480, 640), (1024, 1024), (7, 10), (1, 5000), (5000, 1), (333, 2000)]


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, np.float64).ravel()]


def _sha256(arrays: list[np.ndarray]) -> str:
    """SHA-256 of the arrays' float32 little-endian bytes, one after the other."""
    digest = hashlib.sha256()
    for values in arrays:
        digest.update(np.ascontiguousarray(values, "<f4").tobytes())
    return digest.hexdigest()


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


# Prompt sets for decoder_feeds: (points, labels, box, mask seed) in the 1024 frame.
BATCH_PROMPTS = {
    "mixed": [
        ([[120.25, 300.5], [400.75, 80.1], [10.0, 1000.3]], [1, 0, 1], None, None),
        (None, None, [15.5, 20.25, 700.8, 650.1], None),
        ([[333.3, 444.4]], [1], [100.0, 150.5, 900.25, 1000.0], None),
        ([[512.0, 512.0]], [1], None, None),
        ([[0.3, 1023.7]], [0], None, None),
        ([[50.0, 60.0], [70.0, 80.0]], [0, 1], [10.0, 20.0, 300.0, 400.0], None),
        ([[100.5 * i, 90.25 * i] for i in range(7)], [1, 0, 1, 1, 0, 1, 0], None, None),
    ],
    "small": [
        ([[5.5, 6.5], [7.25, 8.75]], [1, 0], None, None),
        (None, None, [1.0, 2.0, 3.0, 4.0], None),
        ([[9.9, 8.8]], [1], [0.5, 0.5, 1000.5, 900.5], None),
        ([[1.0, 2.0]], [1], None, None),
    ],
    "masked": [
        ([[200.0, 300.0]], [1], None, 0),
        ([[10.0, 20.0], [30.0, 40.0]], [1, 0], [5.0, 5.0, 600.0, 700.0], 1),
        (None, None, [64.0, 32.0, 512.0, 256.0], 2),
        ([[1023.9, 0.1]], [1], None, 3),
    ],
    "too_many": [
        ([[1.0, 1.0]], [1], None, None),
        ([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], [1, 0, 1], None, None),
    ],
}
BATCH_CASES = [("mixed", 8), ("small", 3), ("masked", 8), ("too_many", 3)]


def mask_input_pattern(seed: int) -> np.ndarray:
    """A prompt's 256 x 256 mask_input: ``((7 x + 13 y + 31 seed) % 97 - 48) / 8``, exact in float32."""
    y, x = np.mgrid[: contract.LOW_RES_SIZE, : contract.LOW_RES_SIZE]
    return (((7 * x + 13 * y + 31 * seed) % 97 - 48) / 8).astype(np.float32)


def batch_vectors() -> dict:
    """``decoder_feeds`` over prompt sets of mixed sizes: the calls a program of N slots and B prompts
    per call gets (``image_embeddings`` is passed through and left out)."""
    cases = []
    for name, max_points in BATCH_CASES:
        prompts = BATCH_PROMPTS[name]
        packed = [
            pack_prompt(
                None if points is None else np.array(points, float),
                None if labels is None else np.array(labels, float),
                None if box is None else np.array(box, float),
            )
            for points, labels, box, _ in prompts
        ]
        # One PromptBatch: rows padded to the longest prompt with unused slots (as a caller would).
        longest = max(len(labels) for _, labels in packed)
        rows = [PromptBatch(coords[None], labels[None]).padded_to(longest) for coords, labels in packed]
        seeds = [seed for *_, seed in prompts]
        masks = None if seeds[0] is None else np.stack([mask_input_pattern(s)[None] for s in seeds])
        batch = PromptBatch(
            np.concatenate([r.coords for r in rows]), np.concatenate([r.labels for r in rows]), masks
        )
        for decoder_batch in (1, 3, 64):
            case = {
                "prompts": [
                    {"points": points, "labels": labels, "box": box, "mask_seed": seed}
                    for points, labels, box, seed in prompts
                ],
                "max_points": max_points,
                "decoder_batch": decoder_batch,
            }
            try:
                feeds = list(decoder_feeds(np.zeros((1, 1, 1, 1)), batch, max_points, decoder_batch))
            except ValueError as exc:
                slots = int(re.search(r"prompt has (\d+) slots", str(exc)).group(1))
                cases.append({**case, "error": {"slots": slots}})
                continue
            calls = [
                {
                    "batch": len(feed["has_mask_input"]),
                    "point_coords": _floats(feed["point_coords"]),
                    "point_labels": _floats(feed["point_labels"]),
                    "has_mask_input": _floats(feed["has_mask_input"]),
                    "mask_input_sha256": _sha256([feed["mask_input"]]),
                }
                for feed in feeds
            ]
            cases.append({**case, "calls": calls})
    pattern = "((7 x + 13 y + 31 mask_seed) % 97 - 48) / 8 at row y, column x of a 256 x 256 mask_input"
    return {"mask_input_pattern": pattern, "cases": cases}


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


class _RecordingRuntime(ProgramRuntime):
    """The oracle behind a program runtime of ``decoder_batch`` prompts per call; keeps every decoder feed."""

    name = "recording-oracle"

    def __init__(self, oracle: OracleRuntime, max_points: int, decoder_batch: int) -> None:
        super().__init__(max_points, decoder_batch)
        self.oracle = oracle
        self.feeds: list[Feed] = []

    def run(self, program: str, feed: Feed) -> Feed:
        if program == "encoder":
            return {ENCODER_OUTPUTS[0]: self.oracle.encode(feed["image"])}
        self.feeds.append(feed)
        low, iou = self.oracle.decode(None, PromptBatch(feed["point_coords"], feed["point_labels"]))
        return {DECODER_OUTPUTS[0]: low, DECODER_OUTPUTS[1]: iou}


def batched_everything(scene: Scene, round_two: np.ndarray, max_points: int = 8) -> list[dict]:
    """The decoder calls of hierarchical everything on ``scene`` with ``points_per_batch`` equal to
    the program's ``decoder_batch``: the call sizes and progress totals of each round and the
    SHA-256 of every call's ``point_coords`` / ``point_labels``, in order."""
    out = []
    for decoder_batch in (1, 3, 64):
        runtime = _RecordingRuntime(OracleRuntime(scene), max_points, decoder_batch)
        progress: list[tuple[int, int]] = []
        config = EverythingConfig(points_per_batch=decoder_batch)
        generator = AutoMaskGenerator(runtime, config)
        generator.generate(scene.image(), progress=lambda *done_total, sink=progress: sink.append(done_total))
        sizes = [len(feed["has_mask_input"]) for feed in runtime.feeds]
        sparse = config.sparse_points_per_side**2
        first = int(np.searchsorted(np.cumsum(sizes), sparse)) + 1  # calls of the sparse round
        decoded = np.concatenate([feed["point_coords"][:, 0] for feed in runtime.feeds[first:]])
        assert np.array_equal(decoded, round_two.astype(np.float32)), "round two differs from the skip vector"
        assert len(progress) == len(sizes)
        out.append(
            {
                "decoder_batch": decoder_batch,
                "max_points": max_points,
                "rounds": [
                    {"calls": sizes[:first], "progress_total": progress[0][1]},
                    {"calls": sizes[first:], "progress_total": progress[-1][1]},
                ],
                "point_coords_sha256": _sha256([feed["point_coords"] for feed in runtime.feeds]),
                "point_labels_sha256": _sha256([feed["point_labels"] for feed in runtime.feeds]),
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
    round_two = transforms.transform_coords(dense[outside], scene.size)
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
        "batched_decoding": batched_everything(scene, round_two),
    }


def manifest_vector(target: str, extension: str, decoder_batch: int) -> dict:
    """A manifest as ``tinysam_mobile.convert`` writes it for ``target`` (tiny model, N = 8)."""
    model = build_untrained(TINY, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        encoder, decoder = Path(tmp) / f"encoder.{extension}", Path(tmp) / f"decoder.{extension}"
        encoder.write_bytes(b"encoder program")
        decoder.write_bytes(b"decoder program")
        return build_manifest(
            target=target,
            recipe={"name": "fp32", "target": target},
            contract=io_contract(model, 8, decoder_batch),
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
        "decoder_batches.json": batch_vectors(),
        "masks.json": mask_vectors(),
        "everything.json": everything_vectors(),
        "manifest.json": manifest_vector("tflite", "tflite", 1),
        "manifest_executorch.json": manifest_vector("executorch", "pte", 64),
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
