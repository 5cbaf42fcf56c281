"""The reference model: official key layout, architecture facts, windowing, dtype behaviour."""

from __future__ import annotations

import itertools

import pytest
import torch

from tinysam_mobile.modeling import TINYSAM, build_untrained
from tinysam_mobile.modeling.tiny_vit import TinyViTBlock

# Keys of the official tinysam.pth / tinysam_42.3.pth / mobile_sam.pt layout (one per family).
OFFICIAL_KEYS = [
    "image_encoder.patch_embed.seq.0.c.weight",
    "image_encoder.patch_embed.seq.2.bn.num_batches_tracked",
    "image_encoder.layers.0.blocks.1.conv3.bn.running_var",
    "image_encoder.layers.0.downsample.conv2.c.weight",
    "image_encoder.layers.2.downsample.conv3.bn.bias",
    "image_encoder.layers.1.blocks.0.attn.attention_biases",
    "image_encoder.layers.2.blocks.5.attn.qkv.weight",
    "image_encoder.layers.3.blocks.1.attn.proj.bias",
    "image_encoder.layers.3.blocks.1.attn.norm.weight",
    "image_encoder.layers.3.blocks.0.mlp.fc2.weight",
    "image_encoder.layers.3.blocks.0.mlp.norm.bias",
    "image_encoder.layers.2.blocks.3.local_conv.bn.running_mean",
    "image_encoder.norm_head.weight",
    "image_encoder.head.weight",
    "image_encoder.head.bias",
    "image_encoder.neck.0.weight",
    "image_encoder.neck.3.bias",
    "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
    "prompt_encoder.point_embeddings.3.weight",
    "prompt_encoder.not_a_point_embed.weight",
    "prompt_encoder.no_mask_embed.weight",
    "prompt_encoder.mask_downscaling.6.weight",
    "mask_decoder.transformer.layers.1.cross_attn_image_to_token.out_proj.weight",
    "mask_decoder.transformer.layers.0.norm4.bias",
    "mask_decoder.transformer.layers.0.mlp.lin2.weight",
    "mask_decoder.transformer.final_attn_token_to_image.v_proj.bias",
    "mask_decoder.transformer.norm_final_attn.weight",
    "mask_decoder.iou_token.weight",
    "mask_decoder.mask_tokens.weight",
    "mask_decoder.output_upscaling.3.weight",
    "mask_decoder.output_hypernetworks_mlps.3.layers.2.bias",
    "mask_decoder.iou_prediction_head.layers.2.weight",
]
NON_PERSISTENT = ("pixel_mean", "pixel_std", "attention_bias_idxs", ".ab")


@pytest.fixture(scope="module")
def state_dict(full_model):
    return full_model.state_dict()


def test_official_key_layout(state_dict):
    missing = [k for k in OFFICIAL_KEYS if k not in state_dict]
    assert not missing
    assert not [k for k in state_dict if k.endswith(NON_PERSISTENT)]


def test_parameter_count_matches_reference(full_model):
    assert sum(p.numel() for p in full_model.parameters()) == 10_130_092


def test_architecture_shapes(state_dict):
    # heads x window^2 attention biases, stage by stage
    for stage, (heads, window) in {1: (4, 7), 2: (5, 14), 3: (10, 7)}.items():
        assert state_dict[f"image_encoder.layers.{stage}.blocks.0.attn.attention_biases"].shape == (
            heads,
            window * window,
        )
    assert state_dict["image_encoder.head.weight"].shape == (1000, 320)
    assert state_dict["mask_decoder.mask_tokens.weight"].shape == (4, 256)


def test_last_merge_has_stride_one(full_model):
    merges = [layer.downsample for layer in full_model.image_encoder.layers[:3]]
    assert [m.conv2.c.stride for m in merges] == [(2, 2), (2, 2), (1, 1)]


def test_strict_load_round_trip_refreshes_attention_bias(state_dict):
    model = build_untrained(TINYSAM)  # eval() already gathered its (zero) biases
    model.load_state_dict(state_dict, strict=True)
    attn = model.image_encoder.layers[2].blocks[0].attn
    assert torch.equal(attn.ab, attn.attention_biases[:, attn.attention_bias_idxs])
    assert attn.ab.abs().sum() > 0


def _naive_windowed_attention(block: TinyViTBlock, x: torch.Tensor) -> torch.Tensor:
    """Zero-pad the token grid to a multiple of the window, attend per window with loops, crop."""
    r, w = block.resolution, block.window_size
    b, _, c = x.shape
    p = -(-r // w) * w
    grid = torch.zeros(b, p, p, c)
    grid[:, :r, :r] = x.view(b, r, r, c)
    out = torch.zeros_like(grid)
    for i, j in itertools.product(range(0, p, w), range(0, p, w)):
        window = grid[:, i : i + w, j : j + w].reshape(b, w * w, c)
        out[:, i : i + w, j : j + w] = block.attn(window).view(b, w, w, c)
    return out[:, :r, :r].reshape(b, r * r, c)


@pytest.mark.parametrize("shift", [False, True])
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_window_padding_matches_naive_windows(full_model, stage, shift, monkeypatch):
    """Both pad-fill forms (mask x bias, and pad(x - bias) + bias) equal the official padding."""
    block = full_model.image_encoder.layers[stage].blocks[0]
    monkeypatch.setattr(block, "pad_by_shift", shift)
    torch.manual_seed(stage)
    x = torch.randn(1, block.resolution**2, block.attn.qkv.in_features)
    with torch.no_grad():
        assert torch.allclose(block._windowed_attention(x), _naive_windowed_attention(block, x), atol=1e-5)


def test_window_padding_sizes(full_model):
    res = [
        (layer.blocks[0].resolution, layer.blocks[0].window_size)
        for layer in full_model.image_encoder.layers[1:]
    ]
    assert res == [(128, 7), (64, 14), (64, 7)]  # padded to 133, 70, 70


def test_half_precision_follows_module_dtype(tiny_model):
    model = build_untrained("tiny-test", seed=0).half()
    attn = model.image_encoder.layers[1].blocks[0].attn
    assert attn.ab.dtype == torch.float16
    x = torch.randn(1, 3, 1024, 1024).half()
    with torch.no_grad():
        out = model.encode(x)
        ref = tiny_model.encode(x.float())
    assert out.dtype == torch.float16
    assert torch.isfinite(out).all()
    assert torch.allclose(out.float(), ref, atol=0.1)


def test_untrained_seed_is_deterministic_and_distinct():
    a, b, c = (build_untrained("tiny-test", seed=s).state_dict() for s in (1, 1, 2))
    key = "mask_decoder.iou_token.weight"
    assert torch.equal(a[key], b[key])
    assert not torch.equal(a[key], c[key])


def test_encoder_output_shape(tiny_model):
    with torch.no_grad():
        out = tiny_model.encode(torch.zeros(1, 3, 1024, 1024))
    assert out.shape == (1, 32, 64, 64)
