"""SAM's two-way transformer: prompt tokens and image tokens attend to each other.

Attention whose keys are the prompt tokens (token self-attention and image->token attention) takes
optional ``key_caps`` (``B x T``): each key's scores are capped at its value with ``minimum``. A
used token's cap (``+SLOT_SCORE_CAP``) is far above any real score, so it changes nothing (the
result is bit-identical to uncapped attention); an unused prompt slot's cap (``-SLOT_SCORE_CAP``)
makes its softmax weight exactly 0, so the slot is not a token at all. A finite cap keeps fp16
programs finite, and ``minimum`` is an op that no int8 recipe quantizes (an additive bias would be
an ``add`` whose int8 range the cap would swamp).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import MLPBlock, head_matmul

SLOT_SCORE_CAP = 2048.0  # below fp16 overflow headroom (65504 / 16), far above real scores


class Attention(nn.Module):
    """Multi-head attention with optional down-projection of the internal dimension."""

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        internal = embedding_dim // downsample_rate
        self.q_proj = nn.Linear(embedding_dim, internal)
        self.k_proj = nn.Linear(embedding_dim, internal)
        self.v_proj = nn.Linear(embedding_dim, internal)
        self.out_proj = nn.Linear(internal, embedding_dim)

    def _separate_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_caps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``q`` ``B x Nq x C``, ``k`` / ``v`` ``B x Nk x C``; ``key_caps`` ``B x Nk`` (see the module
        docstring) or ``None``."""
        q = self._separate_heads(self.q_proj(q))
        k = self._separate_heads(self.k_proj(k))
        v = self._separate_heads(self.v_proj(v))
        attn = head_matmul(q, k.permute(0, 1, 3, 2))
        attn = attn / math.sqrt(q.shape[-1])
        if key_caps is not None:
            attn = torch.minimum(attn, key_caps[:, None, None, :])
        attn = torch.softmax(attn, dim=-1)
        out = head_matmul(attn, v)
        b, h, n, c = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * c))


class TwoWayAttentionBlock(nn.Module):
    """Self-attn on tokens, token->image cross-attn, MLP, image->token cross-attn."""

    def __init__(
        self, dim: int, num_heads: int, mlp_dim: int, downsample: int, skip_first_layer_pe: bool
    ) -> None:
        super().__init__()
        self.self_attn = Attention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, num_heads, downsample)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLPBlock(dim, mlp_dim, nn.ReLU)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, num_heads, downsample)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
        token_caps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``token_caps`` ``B x T``: score caps of the tokens as keys (see the module docstring)."""
        if self.skip_first_layer_pe:
            queries = self.self_attn(q=queries, k=queries, v=queries, key_caps=token_caps)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q=q, k=q, v=queries, key_caps=token_caps)
        queries = self.norm1(queries)
        q = queries + query_pe
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q=q, k=k, v=keys))
        queries = self.norm3(queries + self.mlp(queries))
        q = queries + query_pe
        k = keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(q=k, k=q, v=queries, key_caps=token_caps))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """``depth`` two-way blocks and a final token->image attention."""

    def __init__(self, depth: int, dim: int, num_heads: int, mlp_dim: int, downsample: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(dim, num_heads, mlp_dim, downsample, skip_first_layer_pe=i == 0)
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(dim, num_heads, downsample)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        point_embedding: torch.Tensor,
        token_caps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image ``B x C x H x W`` + PE, tokens ``B x T x C`` (score caps ``B x T``) ->
        (tokens, image tokens ``B x HW x C``)."""
        # permute-then-reshape (not the official flatten-then-permute, same values): ExecuTorch's
        # XNNPACK lowering mis-orders flatten(2).permute(0, 2, 1) of two NCHW inputs.
        b, c, h, w = image_embedding.shape
        image_embedding = image_embedding.permute(0, 2, 3, 1).reshape(b, h * w, c)
        image_pe = image_pe.permute(0, 2, 3, 1).reshape(image_pe.shape[0], h * w, c)
        queries, keys = point_embedding, image_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, image_pe, token_caps)
        q = queries + point_embedding
        k = keys + image_pe
        queries = queries + self.final_attn_token_to_image(q=q, k=k, v=keys)
        return self.norm_final_attn(queries), keys
