"""The full TinySAM model: image encoder, prompt encoder, mask decoder."""

from __future__ import annotations

import torch
from torch import nn

from ..contract import MASK_THRESHOLD
from .configs import SamConfig
from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder
from .tiny_vit import TinyViT


class Sam(nn.Module):
    """TinySAM; its state dict has the official key layout (``image_encoder.*`` etc.).

    The model only does tensor work; resizing, normalization and mask upscaling live in
    :mod:`tinysam_mobile.transforms` and prompt handling in :mod:`tinysam_mobile.predictor`.
    """

    mask_threshold = MASK_THRESHOLD  # SAM's attribute, for SAM users' code

    def __init__(self, cfg: SamConfig) -> None:
        super().__init__()
        self.config = cfg
        # True until weights are loaded (tinysam_mobile.checkpoints.apply_state_dict): conversions
        # report, but do not judge, the quality of untrained models.
        self.untrained = True
        self.image_encoder = TinyViT(cfg.encoder)
        self.prompt_encoder = PromptEncoder(
            cfg.decoder.embed_dim,
            self.image_encoder.embedding_size,
            cfg.encoder.img_size,
            cfg.decoder.mask_in_chans,
        )
        self.mask_decoder = MaskDecoder(cfg.decoder)

    @property
    def img_size(self) -> int:
        return self.config.encoder.img_size

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Normalized, padded ``B x 3 x 1024 x 1024`` -> embeddings ``B x 256 x 64 x 64``."""
        return self.image_encoder(images)

    def decode(
        self,
        image_embeddings: torch.Tensor,
        coords: torch.Tensor,
        labels: torch.Tensor,
        mask_input: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts (``B x N x 2`` in the 1024 frame, labels ``B x N``, optional ``B x 1 x 256 x 256``
        logits) -> ``(low-res logits B x 3 x 256 x 256, IoU predictions B x 3)``.

        Unused slots (label -2) are masked out of attention; without them the caps change no
        value, so the answer is bit-identical to the official decoder's.
        """
        sparse, dense = self.prompt_encoder(coords, labels, mask_input)
        caps = self.prompt_encoder.slot_caps(labels.to(sparse.dtype))
        return self.mask_decoder(image_embeddings, self.prompt_encoder.get_dense_pe(), sparse, dense, caps)
