"""TinyViT image encoder in the MobileSAM/TinySAM variant (state-dict compatible).

Input ``B x 3 x S x S`` (normalized, padded, ``S`` = ``img_size``), output ``B x C x S/16 x S/16``.
Faithful to the official ``tiny_vit_sam.py`` numerics, including zero-padding of tokens to a
multiple of the window (pad tokens pass through the attention LayerNorm and are not masked) and the
stride-1 last patch merge. Export-friendly: every shape is a Python int fixed by the config, and the
attention biases are gathered once into a buffer that follows the module's dtype and device.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .common import LayerNorm2d, head_matmul
from .configs import EncoderConfig


class Conv2dBN(nn.Sequential):
    """Conv (no bias) followed by BatchNorm; keys ``c.*`` and ``bn.*`` as in the checkpoints."""

    def __init__(self, a: int, b: int, ks: int = 1, stride: int = 1, pad: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(a, b, ks, stride, pad, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(b))


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 convs: ``3 x S x S`` -> ``dim x S/4 x S/4``."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            Conv2dBN(in_chans, dim // 2, 3, 2, 1), nn.GELU(), Conv2dBN(dim // 2, dim, 3, 2, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual block (1x1 expand, depth-wise 3x3, 1x1 project) on ``B x C x H x W``."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = Conv2dBN(dim, hidden)
        self.act1 = nn.GELU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act2 = nn.GELU()
        self.conv3 = Conv2dBN(hidden, dim)
        self.act3 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(x))
        y = self.act2(self.conv2(y))
        y = self.conv3(y)
        return self.act3(y + x)


class PatchMerging(nn.Module):
    """1x1 conv, depth-wise 3x3 conv with ``stride``, 1x1 conv; returns tokens ``B x L x out_dim``."""

    def __init__(self, resolution: int, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.act = nn.GELU()
        self.conv1 = Conv2dBN(dim, out_dim)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:  # tokens B x L x C from an attention stage
            b, _, c = x.shape
            x = x.view(b, self.resolution, self.resolution, c).permute(0, 3, 1, 2)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class ConvLayer(nn.Module):
    """Stage 0: MBConv blocks then a patch merge."""

    def __init__(self, dim: int, depth: int, expand_ratio: float, downsample: PatchMerging) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class BiasedAttentionCore(nn.Module):
    """``softmax(q @ k^T * scale + bias) @ v`` on heads ``B x H x N x D`` (no parameters).

    A module of its own so converters can treat the score computation as one unit (int8
    recipes keep it float).
    """

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attn = head_matmul(q, k.transpose(-2, -1)) * self.scale + bias
        return head_matmul(attn.softmax(dim=-1), v)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside one window with LeViT-style learned relative biases.

    ``attention_biases`` (``heads x window^2``, a checkpoint key) holds one bias per absolute
    (dy, dx) offset; ``ab`` (``heads x N x N``, not saved) is that table gathered for every token
    pair. ``ab`` is a buffer, so ``.half()`` / ``.to()`` convert it with the module, and it is
    refreshed whenever the biases can have changed (``eval()``, ``load_state_dict``).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = dim // num_heads
        self.core = BiasedAttentionCore(self.key_dim**-0.5)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        points = list(itertools.product(range(window_size), range(window_size)))
        offsets: dict[tuple[int, int], int] = {}
        idxs = []
        for p1 in points:
            for p2 in points:
                off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                idxs.append(offsets.setdefault(off, len(offsets)))
        n = len(points)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        self.register_buffer(
            "attention_bias_idxs", torch.tensor(idxs, dtype=torch.long).view(n, n), persistent=False
        )
        self.register_buffer("ab", torch.zeros(num_heads, n, n), persistent=False)
        self.register_load_state_dict_post_hook(_refresh_after_load)
        self.refresh_bias()

    @torch.no_grad()
    def refresh_bias(self) -> None:
        """Re-gather ``ab`` from ``attention_biases`` (keeps the buffer's dtype and device)."""
        self.ab.copy_(self.attention_biases[:, self.attention_bias_idxs])

    def train(self, mode: bool = True) -> WindowAttention:
        super().train(mode)
        if not mode:
            self.refresh_bias()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attend(self.norm(x))

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """Attention on already-normalized tokens ``B x N x C``."""
        b, n, _ = x.shape
        d = self.key_dim
        qkv = self.qkv(x).view(b, n, self.num_heads, 3 * d).permute(0, 2, 1, 3)
        q, k, v = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]
        bias = self.attention_biases[:, self.attention_bias_idxs] if self.training else self.ab
        x = self.core(q, k, v, bias).transpose(1, 2).reshape(b, n, self.num_heads * d)
        return self.proj(x)


def _refresh_after_load(module: WindowAttention, _incompatible_keys: object) -> None:
    module.refresh_bias()


class Mlp(nn.Module):
    """Pre-norm feed-forward of a TinyViT block (keys ``norm``, ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Window attention, depth-wise local conv, MLP, on tokens ``B x (R*R) x C``.

    ``pad_by_shift`` selects how pad tokens get their value ``norm.bias`` (see
    ``_windowed_attention``): ``False`` adds a mask times the bias, ``True`` pads ``x - bias``
    with zeros and adds the bias back. The first keeps the pad op's input the norm's float output
    (XNNPACK int8); the second holds no grid-sized constant, which TFLite converters would fold
    into ``P x P x C`` floats per block (50 MB over the encoder).
    """

    pad_by_shift = False

    def __init__(self, dim: int, resolution: int, num_heads: int, window_size: int, mlp_ratio: float) -> None:
        super().__init__()
        self.resolution = resolution
        self.window_size = window_size
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = Conv2dBN(dim, dim, 3, 1, 1, groups=dim)
        padded = -(-resolution // window_size) * window_size
        pad_mask = torch.ones(1, padded, padded, 1)
        pad_mask[:, :resolution, :resolution] = 0.0
        self.register_buffer("pad_mask", pad_mask, persistent=False)

    def _windowed_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention over non-overlapping windows of the ``R x R`` token grid.

        The official code zero-pads the grid to a multiple of the window and then applies the
        attention LayerNorm, so every pad token becomes ``LN(0) = norm.bias``. Here the norm runs
        first and the pad tokens are filled with ``norm.bias`` directly: identical numbers, and
        the pad op sees a float tensor, which int8 backends (XNNPACK) cannot quantize.
        """
        r, w = self.resolution, self.window_size
        x = self.attn.norm(x)
        if r == w:
            return self.attn.attend(x)
        b, length, c = x.shape
        pad = (w - r % w) % w
        x = x.view(b, r, r, c)
        if pad and self.pad_by_shift:
            bias = self.attn.norm.bias
            x = F.pad(x - bias, (0, 0, 0, pad, 0, pad)) + bias
        elif pad:
            x = F.pad(x, (0, 0, 0, pad, 0, pad)) + self.pad_mask * self.attn.norm.bias
        p = r + pad
        n = p // w
        x = x.view(b, n, w, n, w, c).transpose(2, 3).reshape(b * n * n, w * w, c)
        x = self.attn.attend(x)
        x = x.view(b, n, n, w, w, c).transpose(2, 3).reshape(b, p, p, c)
        if pad:
            x = x[:, :r, :r].contiguous()
        return x.view(b, length, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, c = x.shape
        x = x + self._windowed_attention(x)
        x = x.transpose(1, 2).reshape(b, c, self.resolution, self.resolution)
        x = self.local_conv(x)
        x = x.view(b, c, length).transpose(1, 2)
        return x + self.mlp(x)


class BasicLayer(nn.Module):
    """An attention stage: TinyViT blocks, then an optional patch merge."""

    def __init__(
        self,
        dim: int,
        resolution: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        downsample: PatchMerging | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, resolution, num_heads, window_size, mlp_ratio) for _ in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


def _stage_resolutions(patch_res: int, strides: Sequence[int]) -> list[int]:
    """Token-grid side of each stage, given the stride of each patch merge."""
    res = [patch_res]
    for s in strides:
        res.append(res[-1] // s)
    return res


class TinyViT(nn.Module):
    """The TinySAM image encoder: ``B x 3 x S x S`` -> ``B x out_chans x S/16 x S/16``."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.img_size = cfg.img_size
        dims = cfg.embed_dims
        merge_strides = cfg.merge_strides
        res = _stage_resolutions(cfg.img_size // 4, merge_strides)
        self.embedding_size = res[-1]
        self.patch_embed = PatchEmbed(3, dims[0])
        self.layers = nn.ModuleList()
        for i, depth in enumerate(cfg.depths):
            last = i == len(cfg.depths) - 1
            merge = None if last else PatchMerging(res[i], dims[i], dims[i + 1], merge_strides[i])
            if i == 0:
                assert merge is not None
                layer: nn.Module = ConvLayer(dims[0], depth, cfg.mbconv_expand_ratio, merge)
            else:
                layer = BasicLayer(
                    dims[i],
                    res[i],
                    depth,
                    cfg.num_heads[i],
                    cfg.window_sizes[i],
                    cfg.mlp_ratio,
                    merge,
                )
            self.layers.append(layer)
        # The classifier head of the ImageNet-pretrained TinyViT: kept only because the official
        # checkpoints contain it (strict loading); never called.
        self.norm_head = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], cfg.num_classes)
        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], cfg.out_chans, kernel_size=1, bias=False),
            LayerNorm2d(cfg.out_chans),
            nn.Conv2d(cfg.out_chans, cfg.out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(cfg.out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        b, _, c = x.shape
        s = self.embedding_size
        x = x.view(b, s, s, c).permute(0, 3, 1, 2)
        return self.neck(x)
