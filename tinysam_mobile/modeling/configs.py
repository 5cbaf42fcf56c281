"""Named model configurations: the full TinySAM (TinyViT-5M) and a tiny one for fast tests.

Both use the same classes and the same 1024 input / 64x64 embedding / 256x256 low-res-mask
geometry, so every pre/post-processing and export code path is exercised by the tiny config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderConfig:
    """TinyViT hyper-parameters. ``merge_strides[i]`` is the stride of the merge after stage i."""

    img_size: int = 1024
    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    # The official code forces stride 1 on a merge whose out_dim is 320/448/576: for TinyViT-5M
    # that is the last merge, which keeps stage 3 at 64x64.
    merge_strides: tuple[int, ...] = (2, 2, 1)
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0
    num_classes: int = 1000
    out_chans: int = 256


@dataclass(frozen=True)
class DecoderConfig:
    """Prompt encoder + two-way-transformer mask decoder hyper-parameters."""

    embed_dim: int = 256
    depth: int = 2
    num_heads: int = 8
    mlp_dim: int = 2048
    mask_in_chans: int = 16
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256


@dataclass(frozen=True)
class SamConfig:
    """A full model: encoder + decoder; ``name`` appears in manifests and logs."""

    name: str
    encoder: EncoderConfig
    decoder: DecoderConfig


TINYSAM = SamConfig("tinysam", EncoderConfig(), DecoderConfig())

TINY = SamConfig(
    "tiny-test",
    EncoderConfig(
        embed_dims=(8, 16, 24, 32),
        depths=(1, 1, 1, 1),
        num_heads=(1, 1, 2, 2),
        num_classes=10,
        out_chans=32,
    ),
    DecoderConfig(embed_dim=32, depth=2, num_heads=2, mlp_dim=64, mask_in_chans=8, iou_head_hidden_dim=32),
)

CONFIGS: dict[str, SamConfig] = {c.name: c for c in (TINYSAM, TINY)}


def get_config(name: str) -> SamConfig:
    """Return a named configuration or raise with the list of known names."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown model config {name!r}; known: {', '.join(CONFIGS)}") from None
