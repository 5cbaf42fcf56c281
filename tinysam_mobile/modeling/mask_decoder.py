"""SAM's mask decoder as TinySAM uses it: always mask tokens 1..3 and their IoU predictions."""

from __future__ import annotations

import torch
from torch import nn

from .common import MLP, LayerNorm2d
from .configs import DecoderConfig
from .transformer import SLOT_SCORE_CAP, TwoWayTransformer


class MaskDecoder(nn.Module):
    """Image embedding + prompt embeddings -> low-res mask logits and predicted IoUs."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.transformer = TwoWayTransformer(cfg.depth, dim, cfg.num_heads, cfg.mlp_dim)
        self.num_mask_tokens = cfg.num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(dim, cfg.iou_head_hidden_dim, self.num_mask_tokens, cfg.iou_head_depth)

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        sparse_caps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All four mask tokens: ``(B x 4 x 256 x 256 logits, B x 4 IoU)``.

        ``image_embeddings`` is ``1 x C x 64 x 64`` (shared by the prompt batch) or ``B x ...``;
        ``sparse_caps`` ``B x N`` masks unused prompt slots out of attention
        (:meth:`PromptEncoder.slot_caps`).
        """
        tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = tokens.unsqueeze(0).expand(sparse.shape[0], -1, -1)
        tokens = torch.cat((tokens, sparse), dim=1)
        n = tokens.shape[0]
        token_caps = None
        if sparse_caps is not None:
            output_caps = torch.full((1, 1 + self.num_mask_tokens), SLOT_SCORE_CAP, dtype=sparse_caps.dtype)
            token_caps = torch.cat((output_caps.expand(n, -1), sparse_caps), dim=1)
        # The official code always repeats the embedding per prompt with repeat_interleave;
        # expanding a shared one gives the same values without the gather op that XNNPACK's
        # lowering gets wrong.
        src = image_embeddings
        if src.shape[0] == 1:
            src = src.expand(n, -1, -1, -1)
        elif src.shape[0] != n:
            src = torch.repeat_interleave(src, n // src.shape[0], dim=0)
        src = src + dense
        pos_src = image_pe.expand(n, -1, -1, -1)
        b, c, h, w = src.shape
        hs, src = self.transformer(src, pos_src, tokens, token_caps)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]
        upscaled = self.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, self.iou_prediction_head(iou_token_out)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        sparse_caps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """TinySAM's output: mask tokens 1..3 only, ``(B x 3 x 256 x 256, B x 3)``."""
        masks, iou = self.predict_masks(image_embeddings, image_pe, sparse, dense, sparse_caps)
        return masks[:, 1:], iou[:, 1:]
