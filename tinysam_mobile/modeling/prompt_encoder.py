"""SAM's prompt encoder: points / box corners -> sparse tokens, mask -> dense embedding.

All prompts arrive as one point list: ``coords`` ``B x N x 2`` (X, Y) in the 1024 input frame and
``labels`` ``B x N`` with 1 foreground, 0 background, 2 box top-left, 3 box bottom-right, -1 the
official not-a-point token and -2 an unused slot (a zero embedding that the decoder masks out of
attention, see :meth:`PromptEncoder.slot_caps`). Label handling is arithmetic (no boolean
indexing), which matches the official in-place indexing numerically and exports with static shapes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..contract import LABEL_NOT_A_POINT, LABEL_UNUSED
from .common import LayerNorm2d
from .transformer import SLOT_SCORE_CAP


def label_indicator(labels: torch.Tensor, value: int) -> torch.Tensor:
    """1.0 where the integer-valued float ``labels`` equal ``value``, else 0.0.

    Computed as ``max(0, 1 - |labels - value|)``: exact for integer labels, with no boolean
    tensors, so every backend runs it in float.
    """
    return torch.clamp(1.0 - torch.abs(labels - value), min=0.0)


class PositionEmbeddingRandom(nn.Module):
    """Random-Fourier positional encoding of normalized coordinates."""

    def __init__(self, num_pos_feats: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def _pe_encoding(self, coords: torch.Tensor) -> torch.Tensor:
        coords = 2 * coords - 1
        coords = coords @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def dense(self, size: int) -> torch.Tensor:
        """Encoding of every cell centre of a ``size x size`` grid: ``C x size x size``."""
        grid = torch.ones(
            (size, size),
            device=self.positional_encoding_gaussian_matrix.device,
            dtype=torch.float32,
        )
        y_embed = (grid.cumsum(dim=0) - 0.5) / size
        x_embed = (grid.cumsum(dim=1) - 0.5) / size
        pe = self._pe_encoding(torch.stack([x_embed, y_embed], dim=-1))
        return pe.permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: int) -> torch.Tensor:
        """Encoding of pixel coordinates ``B x N x 2`` in a square ``image_size`` frame."""
        return self._pe_encoding((coords / image_size).to(torch.float))


class PromptEncoder(nn.Module):
    """Embeds point/box prompts as sparse tokens and a mask prompt as a dense embedding."""

    def __init__(
        self, embed_dim: int, image_embedding_size: int, input_image_size: int, mask_in_chans: int
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        # 0 background, 1 foreground, 2 box top-left, 3 box bottom-right
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = 4 * image_embedding_size
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image embedding grid: ``1 x C x 64 x 64``."""
        return self.pe_layer.dense(self.image_embedding_size).unsqueeze(0)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Sparse tokens ``B x N x C`` for slots labelled -2/-1/0/1/2/3 (pixel-centre shift +0.5);
        unused slots (-2) embed to zeros."""
        pe = self.pe_layer.forward_with_coords(coords + 0.5, self.input_image_size)
        labels = labels.unsqueeze(-1).to(pe.dtype)
        not_a_point = label_indicator(labels, LABEL_NOT_A_POINT)
        out = pe * (1.0 - not_a_point - label_indicator(labels, LABEL_UNUSED))
        out = out + self.not_a_point_embed.weight * not_a_point
        for i, emb in enumerate(self.point_embeddings):
            out = out + emb.weight * label_indicator(labels, i)
        return out

    @staticmethod
    def slot_caps(labels: torch.Tensor) -> torch.Tensor:
        """Attention score caps ``B x N`` of the prompt slots as keys: ``+SLOT_SCORE_CAP`` for a
        token (no effect), ``-SLOT_SCORE_CAP`` for an unused slot (softmax weight exactly 0)."""
        unused = label_indicator(labels, LABEL_UNUSED)
        return SLOT_SCORE_CAP * (1.0 - 2.0 * unused)

    def embed_mask(self, masks: torch.Tensor) -> torch.Tensor:
        """Dense embedding ``B x C x 64 x 64`` of low-res mask logits ``B x 1 x 256 x 256``."""
        return self.mask_downscaling(masks)

    def no_mask_dense(self, batch: int) -> torch.Tensor:
        """Dense embedding used when no mask prompt is given: ``B x C x 64 x 64``."""
        s = self.image_embedding_size
        return self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, s, s)

    def forward(
        self, coords: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(sparse B x N x C, dense B x C x 64 x 64)``."""
        sparse = self.embed_points(coords, labels)
        dense = self.no_mask_dense(coords.shape[0]) if masks is None else self.embed_mask(masks)
        return sparse, dense
