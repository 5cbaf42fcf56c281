"""One TinySAM, many input sizes: parameter-sharing views, training mode, initialisation.

TinyViT's and SAM's weights do not depend on the input size: a model built for ``img_size = S``
has exactly the state-dict keys and shapes of the 1024 one (embedding ``S/16``, low-res masks and
``mask_input`` ``S/4``). :class:`SharedResolutions` builds such a model per size whose parameters
and persistent buffers *are* the full model's tensors, so a step at 256 updates the 1024 model.
Only size-dependent non-persistent buffers (window padding masks, gathered attention biases) are
per view; ``WindowAttention`` gathers its biases from the shared parameter in training mode and
refreshes its gathered copy on ``eval()``.

BatchNorm stays in eval mode during training: the official model is used in eval mode, batches
here are a few images (batch statistics would be noisy, differ between ranks and between train
and eval). From scratch, :func:`calibrate_batchnorm` first sets the running statistics from
generated images, after which each BN is a fixed affine map with trainable scale and shift.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from ...modeling import Sam

FROZEN_PREFIXES = ("image_encoder.head.", "image_encoder.norm_head.")  # never called by TinySAM


class SharedResolutions:
    """Views of ``model`` at other input sizes that share its parameters and persistent buffers."""

    def __init__(self, model: Sam) -> None:
        self.full = model
        self._views: dict[int, Sam] = {model.img_size: model}

    def at(self, size: int) -> Sam:
        """The model for ``size x size`` inputs (built once, then cached)."""
        if size not in self._views:
            cfg = self.full.config
            cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, img_size=size))
            view = Sam(cfg)
            tie_weights(view, self.full)
            self._views[size] = view.to(next(self.full.parameters()).device)
        return self._views[size]


def tie_weights(view: nn.Module, source: nn.Module) -> None:
    """Make every parameter and persistent buffer of ``view`` the same tensor as in ``source``."""
    for name, module in view.named_modules():
        origin = source.get_submodule(name)
        for key, param in list(module._parameters.items()):
            shared = origin._parameters[key]
            if param is not None and shared is not None:
                _check_shape(f"{name}.{key}", param, shared)
                module._parameters[key] = shared
        for key, buf in list(module._buffers.items()):
            if key in module._non_persistent_buffers_set or buf is None:
                continue
            shared = origin._buffers[key]
            _check_shape(f"{name}.{key}", buf, shared)
            module._buffers[key] = shared


def _check_shape(name: str, a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: {tuple(a.shape)} vs {tuple(b.shape)} cannot be shared")


def set_training_mode(model: nn.Module) -> None:
    """Training mode everywhere except BatchNorm, which keeps its running statistics."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def freeze_unused(model: Sam) -> None:
    """Freeze the classifier head TinySAM never calls (it stays as initialised, for strict loading)."""
    for name, param in model.named_parameters():
        if name.startswith(FROZEN_PREFIXES):
            param.requires_grad_(False)


def trainable_parameters(model: Sam) -> list[nn.Parameter]:
    """The parameters that require gradients."""
    return [p for p in model.parameters() if p.requires_grad]


@torch.no_grad()
def init_encoder_weights(model: Sam, seed: int) -> None:
    """TinyViT's from-scratch initialisation of the encoder's linear layers (truncated normal,
    std 0.02, zero bias); the prompt encoder and decoder keep SAM's (PyTorch default) init.
    The global RNG state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.image_encoder.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)


LOCALITY_SCALE = 1.5
PROMPT_EMBEDDING_STD = 0.2


@torch.no_grad()
def init_prompt_locality(model: Sam, scale: float = LOCALITY_SCALE) -> None:
    """Start the decoder's cross-attentions as a locality kernel between prompts and image.

    A point prompt reaches the mask only through attention between prompt and image tokens, and
    from random weights that path has no gradient worth the name (the model learns a
    prompt-independent mask first). Here every token->image and image->token attention starts
    with ``q_proj = k_proj = scale * E`` (zero biases), where ``E`` gives each head the sine and
    cosine coordinates of its own random-Fourier frequencies: the score of a prompt token against
    an image token is then the positional-encoding kernel of their distance, summed over the
    head's frequencies, so image tokens near a point attend to it from step 0. The point, box and
    not-a-point embeddings start at std :data:`PROMPT_EMBEDDING_STD` (N(0, 1) by default), so they
    do not swamp that kernel. Everything else keeps its initialisation; all of it stays trainable.
    """
    decoder = model.mask_decoder
    attentions = [
        a
        for layer in decoder.transformer.layers
        for a in (layer.cross_attn_token_to_image, layer.cross_attn_image_to_token)
    ]
    attentions.append(decoder.transformer.final_attn_token_to_image)
    dim = model.prompt_encoder.embed_dim
    frequencies = dim // 2  # PE channels: sin of each frequency, then cos of each
    for attention in attentions:
        internal = attention.q_proj.out_features
        head_dim = internal // attention.num_heads
        weight = torch.zeros(internal, dim)
        for row in range(internal):
            head, j = divmod(row, head_dim)
            half = head_dim // 2
            frequency = (head * half + j % half) % frequencies
            weight[row, frequency + (frequencies if j >= half else 0)] = scale
        for proj in (attention.q_proj, attention.k_proj):
            proj.weight.copy_(weight)
            proj.bias.zero_()
    prompt_encoder = model.prompt_encoder
    for embedding in [*prompt_encoder.point_embeddings, prompt_encoder.not_a_point_embed]:
        embedding.weight.normal_(0.0, PROMPT_EMBEDDING_STD)


@torch.no_grad()
def calibrate_batchnorm(model: Sam, batches: Iterable[torch.Tensor]) -> None:
    """Set every BatchNorm's running statistics to the average over ``batches`` of images
    (``B x 3 x S x S``, normalized), then leave the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    for images in batches:
        model.image_encoder(images)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()


@contextlib.contextmanager
def capture_decoder_tokens(model: Sam) -> Iterator[list[torch.Tensor]]:
    """Within the block, each decoder call appends the two-way transformer's output tokens
    (``N x T x C``: IoU token, mask tokens, prompt tokens) to the yielded list. The decoder's
    outputs are unchanged."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        captured.append(output[0])

    handle = model.mask_decoder.transformer.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
