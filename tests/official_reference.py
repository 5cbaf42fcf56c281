"""The official TinySAM predictor's prompt path, written the way the official code computes it.

Used only by tests to check that our Predictor (which packs every prompt into one labelled point
list and embeds it arithmetically) gives the same numbers as the official code path: boolean
in-place indexing of point labels, a separate box-corner path, a padding point appended only when
there is no box, torch pre-processing (``(x - mean) / std`` then ``F.pad``), and the official
``postprocess_masks``. The network modules themselves are shared.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from tinysam_mobile.modeling import Sam

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)


def official_preprocess(image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = image.shape[:2]
    scale = 1024 * 1.0 / max(h, w)
    newh, neww = int(h * scale + 0.5), int(w * scale + 0.5)
    resized = np.array(Image.fromarray(image).resize((neww, newh), Image.BILINEAR))
    x = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None]
    x = (x - MEAN) / STD
    x = F.pad(x, (0, 1024 - neww, 0, 1024 - newh))
    return x, (newh, neww)


def _embed_points(model: Sam, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
    pe_enc = model.prompt_encoder
    points = points + 0.5
    if pad:
        points = torch.cat([points, torch.zeros((points.shape[0], 1, 2))], dim=1)
        labels = torch.cat([labels, -torch.ones((labels.shape[0], 1))], dim=1)
    coords = points.clone()
    coords[:, :, 0] = coords[:, :, 0] / 1024
    coords[:, :, 1] = coords[:, :, 1] / 1024
    emb = pe_enc.pe_layer._pe_encoding(coords.to(torch.float))
    emb[labels == -1] = 0.0
    emb[labels == -1] += pe_enc.not_a_point_embed.weight
    emb[labels == 0] += pe_enc.point_embeddings[0].weight
    emb[labels == 1] += pe_enc.point_embeddings[1].weight
    return emb


def _embed_boxes(model: Sam, boxes: torch.Tensor) -> torch.Tensor:
    pe_enc = model.prompt_encoder
    coords = (boxes + 0.5).reshape(-1, 2, 2)
    coords = coords.clone()
    coords[:, :, 0] = coords[:, :, 0] / 1024
    coords[:, :, 1] = coords[:, :, 1] / 1024
    emb = pe_enc.pe_layer._pe_encoding(coords.to(torch.float))
    emb[:, 0, :] += pe_enc.point_embeddings[2].weight
    emb[:, 1, :] += pe_enc.point_embeddings[3].weight
    return emb


@torch.no_grad()
def official_predict(
    model: Sam,
    image: np.ndarray,
    point_coords: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    box: np.ndarray | None = None,
    mask_input: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Embeddings, low-res logits, IoUs and full-size logits as the official predictor gives them."""
    x, (newh, neww) = official_preprocess(image)
    h, w = image.shape[:2]
    features = model.image_encoder(x)
    sparse = torch.empty((1, 0, model.prompt_encoder.embed_dim))
    if point_coords is not None:
        c = np.array(point_coords, dtype=float)
        c[..., 0] *= neww / w
        c[..., 1] *= newh / h
        pts = torch.as_tensor(c, dtype=torch.float)[None]
        lbl = torch.as_tensor(point_labels, dtype=torch.int)[None]
        sparse = torch.cat([sparse, _embed_points(model, pts, lbl, pad=box is None)], dim=1)
    if box is not None:
        b = np.array(box, dtype=float).reshape(-1, 2, 2)
        b[..., 0] *= neww / w
        b[..., 1] *= newh / h
        boxes = torch.as_tensor(b.reshape(-1, 4), dtype=torch.float)
        sparse = torch.cat([sparse, _embed_boxes(model, boxes)], dim=1)
    if mask_input is not None:
        dense = model.prompt_encoder.mask_downscaling(torch.as_tensor(mask_input, dtype=torch.float)[None])
    else:
        dense = model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, 64, 64)
    low, iou = model.mask_decoder(features, model.prompt_encoder.get_dense_pe(), sparse, dense)
    masks = F.interpolate(low, (1024, 1024), mode="bilinear", align_corners=False)
    masks = masks[..., :newh, :neww]
    masks = F.interpolate(masks, (h, w), mode="bilinear", align_corners=False)
    return {
        "embeddings": features.numpy(),
        "low_res": low[0].numpy(),
        "iou": iou[0].numpy(),
        "logits": masks[0].numpy(),
    }
