"""Which decoder weights int8 moves the masks of a trained model: one layer at a time.

    .venv/bin/python benchmarks/decoder_weight_sensitivity.py [--checkpoint tinysam-synthetic]
        [--out benchmarks/DECODER_WEIGHT_SENSITIVITY.md]

Each linear / conv layer of the mask decoder with 2048+ weights (what the compression recipes
touch) gets its weights rounded to int8, symmetric per output channel, alone; the float model
answers a box and a point on the first bundled photo and three shipped scenes, and the three masks
are compared with the unquantized model's (IoU of the thresholded masks). All layers together
are the last row.
"""

from __future__ import annotations

import argparse
import copy
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile.assets import bundled_photos, bundled_scenes
from tinysam_mobile.cli.common import add_checkpoint_args, load_from_args
from tinysam_mobile.modeling import Sam
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.toolchain.evaluation import mask_iou

LAYERS = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)


def int8_per_channel(model: Sam, names: set[str]) -> Sam:
    """A copy of ``model`` with the named decoder layers' weights rounded to int8 per output
    channel (axis 0), symmetric."""
    out = copy.deepcopy(model)
    for name, layer in out.mask_decoder.named_modules():
        if name in names:
            w = layer.weight.data
            scale = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp_min(1e-12) / 127
            layer.weight.data = torch.round(w / scale).clamp(-127, 127) * scale
    return out


def encoded(model: Sam, images: list[np.ndarray]) -> list[Predictor]:
    """One predictor per image, its embedding computed once (only the decoder changes)."""
    predictors = []
    for image in images:
        predictors.append(Predictor(model))
        predictors[-1].set_image(image)
    return predictors


def answers(model: Sam, predictors: list[Predictor]) -> list[np.ndarray]:
    """Three thresholded masks per (image, prompt) from ``model``'s decoder: a centred box and a
    point at the centre."""
    masks = []
    for predictor in predictors:
        predictor.runtime.model = model.eval()
        h, w = predictor.original_size
        for prompt in (
            {"box": np.array([w * 0.2, h * 0.2, w * 0.8, h * 0.8])},
            {"point_coords": np.array([[w / 2, h / 2]]), "point_labels": np.array([1])},
        ):
            masks.append(predictor.predict(**prompt, multimask_output=True)[0])
    return masks


def mask_ious(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """IoU of every mask of ``a`` with its counterpart in ``b``."""
    pairs = [(x, y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True)]
    return np.array([mask_iou(x, y) for x, y in pairs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_checkpoint_args(parser)
    parser.set_defaults(checkpoint="tinysam-synthetic")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/DECODER_WEIGHT_SENSITIVITY.md"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_from_args(args).model.eval()
    paths = [*bundled_photos()[:1], *bundled_scenes()[:3]]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    predictors = encoded(model, images)
    reference = answers(model, predictors)
    layers = [
        n for n, m in model.mask_decoder.named_modules() if isinstance(m, LAYERS) and m.weight.numel() >= 2048
    ]
    rows = []
    for name in [*layers, "all of them"]:
        chosen = set(layers) if name == "all of them" else {name}
        ious = mask_ious(reference, answers(int8_per_channel(model, chosen), predictors))
        rows.append(f"| {name} | {ious.mean():.3f} | {ious.min():.3f} |")
        print(rows[-1], flush=True)
    lines = [
        "# Decoder weights at int8, one layer at a time",
        "",
        f"Command: `python benchmarks/decoder_weight_sensitivity.py --checkpoint {args.checkpoint}`",
        f"Machine: {platform.machine()}, torch {torch.__version__}; "
        f"photos: {', '.join(p.name for p in paths)}; a centred box and a centre point each, "
        "three masks per prompt.",
        "",
        "| decoder layer at int8 (per output channel) | mean mask IoU vs float | min |",
        "|---|---|---|",
        *rows,
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
