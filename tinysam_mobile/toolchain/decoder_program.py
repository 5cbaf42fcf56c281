"""The decoder as it is exported: SAM's prompt encoder + mask decoder math, rearranged for programs.

The exported decoder (:class:`DecoderModule`) computes what ``PromptEncoder`` + ``MaskDecoder``
compute (same weights, same values up to float rounding) for ``B`` prompts against one shared
``1 x C x 64 x 64`` embedding, in a form that runs fast in the backends:

* Image tokens stay in ``B x HW x C`` layout end to end. The output upscaling's 2x2 / stride-2
  transposed convolutions are linears that emit a 2x2 block of pixels per token (the blocks do not
  overlap), with SAM's channel LayerNorm over the last axis; the masks are computed in that
  blocked pixel order and reordered once (three channels, not 32). The mask prompt's 2x2 / stride-2
  convolutions are likewise space-to-depth + linear. No NCHW <-> NHWC copies, no deconvolutions.
* Image-side projections can be folded onto the token side (:class:`_TokenToImage`,
  :class:`_ImageToToken`): with ``Q`` query tokens against ``HW`` image tokens, a token-to-image
  attention's key and value projections (``2 HW C C/2`` MACs) become ``W_k`` applied to the
  queries and ``W_v`` to the gathered output per head (``2 Q heads HW C``), and an image-to-token
  attention's query and output projections likewise move to the keys and values. Exact in real
  arithmetic, and fewer MACs for every token count the contract allows (the final attention's
  four queries: a quarter; the blocks' 13 tokens with 8 slots: 0.77x), but the work moves from
  fully connected layers with constant weights to matmuls of two activations: it pays only where
  the runtime's batch matmul is as fast (``fold``, a backend's choice per scheme measured in
  ``benchmarks/DECODER_FLOOR.md``: ExecuTorch fp32 yes; its int8, where the projections run as
  int8 GEMMs and the matmuls would stay float, no; LiteRT's batch matmul is slower, so no).
* Prompt-independent work is done once per call: the first two-way block's image-side projections
  of ``embedding + no_mask_embed``, shared by the call's prompts; a prompt with a mask input adds
  its own part through the mask embedding's last 1x1 convolution folded into each projection (16
  input channels instead of 256).
* Only what TinySAM returns is computed at the end: hypernetworks of mask tokens 1..3, and the
  final token-to-image attention for the IoU token and mask tokens 1..3 only.
* Unused prompt slots (label -2) are masked out of attention (``PromptEncoder.slot_caps``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..contract import LOW_RES_SIZE
from ..modeling import Sam
from ..modeling.common import head_matmul
from ..modeling.transformer import SLOT_SCORE_CAP, Attention, TwoWayAttentionBlock


def _layer_norm_last(norm: nn.Module) -> nn.LayerNorm:
    """SAM's ``LayerNorm2d`` (over channels) as an ``nn.LayerNorm`` over the last axis (same
    formula: biased variance, eps inside the square root)."""
    out = nn.LayerNorm(norm.weight.shape[0], eps=norm.eps)
    out.weight, out.bias = norm.weight, norm.bias
    return out


def _deconv_as_linear(conv: nn.ConvTranspose2d) -> nn.Linear:
    """A 2x2 / stride-2 transposed conv as a linear from ``C_in`` to a ``2 x 2 x C_out`` block
    (rows of the block, then columns, then channels)."""
    c_in, c_out, kh, kw = conv.weight.shape
    assert (kh, kw) == (2, 2) and conv.stride == (2, 2) and conv.padding == (0, 0)
    linear = nn.Linear(c_in, 4 * c_out)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.permute(2, 3, 1, 0).reshape(4 * c_out, c_in))
        linear.bias.copy_(conv.bias.repeat(4))
    return linear


def _conv_as_linear(conv: nn.Conv2d) -> nn.Linear:
    """A ``k x k`` / stride-``k`` conv as a linear over ``k x k x C_in`` blocks (rows, columns,
    channels), or a 1x1 conv as a linear over channels."""
    c_out, c_in, kh, kw = conv.weight.shape
    assert conv.stride == (kh, kw) and conv.padding == (0, 0)
    linear = nn.Linear(kh * kw * c_in, c_out)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.permute(0, 2, 3, 1).reshape(c_out, kh * kw * c_in))
        linear.bias.copy_(conv.bias)
    return linear


def _space_to_depth(x: torch.Tensor, size: int) -> torch.Tensor:
    """``B x (size*size) x C`` pixels (row-major) -> ``B x (size/2)² x (2*2*C)`` 2x2 blocks.

    Every intermediate has at most 5 dimensions (Core ML's limit)."""
    b, _, c = x.shape
    half = size // 2
    x = x.reshape(b * half, 2, half, 2, c).permute(0, 2, 1, 3, 4)
    return x.reshape(b, half * half, 4 * c)


class _FoldedProjection(nn.Module):
    """``proj(shared + has_mask * (h @ conv_w.T + conv_b - no_mask))`` computed as
    ``proj(shared)`` + ``has_mask * (h @ (proj_w conv_w).T + proj_w (conv_b - no_mask))``."""

    def __init__(self, proj: nn.Linear, conv: nn.Linear, no_mask: torch.Tensor) -> None:
        super().__init__()
        self.proj = proj
        self.folded = nn.Linear(conv.in_features, proj.out_features)
        with torch.no_grad():
            self.folded.weight.copy_(proj.weight @ conv.weight)
            self.folded.bias.copy_(proj.weight @ (conv.bias - no_mask))

    def forward(self, shared: torch.Tensor, h: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
        return self.proj(shared) + has_mask * self.folded(h)


def _attend(
    attn: Attention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, caps: torch.Tensor | None = None
) -> torch.Tensor:
    """``Attention.forward`` on already projected ``q`` / ``k`` / ``v`` (``B x N x internal``)."""
    q, k, v = attn._separate_heads(q), attn._separate_heads(k), attn._separate_heads(v)
    scores = head_matmul(q, k.permute(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
    if caps is not None:
        scores = torch.minimum(scores, caps[:, None, None, :])
    out = head_matmul(torch.softmax(scores, dim=-1), v)
    b, h, n, c = out.shape
    return attn.out_proj(out.transpose(1, 2).reshape(b, n, h * c))


def _head_blocks(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """``internal x C`` projection weight -> ``heads x (internal / heads) x C`` per-head blocks."""
    return weight.reshape(heads, weight.shape[0] // heads, weight.shape[1])


class _TokenToImage(nn.Module):
    """``Attention`` with few queries (tokens) and many keys (image tokens), image-side projections
    folded: per head ``h``, ``score = (W_k,h^T q_h) . (image + pe) / sqrt(d)`` (the ``q_h . b_k,h``
    term is the same for every key and cancels in the softmax) and ``out_h = W_v,h (A_h image) +
    b_v,h`` (the weights of a query sum to 1). ``queries`` ``B x T x C`` -> ``B x T x C``; ``keys``
    (with PE) and ``values`` ``B x HW x C``."""

    def __init__(self, attn: Attention) -> None:
        super().__init__()
        heads, c = attn.num_heads, attn.q_proj.in_features
        head_dim = attn.q_proj.out_features // heads
        self.heads = heads
        wq, bq = _head_blocks(attn.q_proj.weight, heads), attn.q_proj.bias.reshape(heads, head_dim)
        wk = _head_blocks(attn.k_proj.weight, heads)
        wv, bv = _head_blocks(attn.v_proj.weight, heads), attn.v_proj.bias.reshape(heads, head_dim)
        wo = attn.out_proj.weight.reshape(c, heads, head_dim).permute(1, 0, 2)  # heads x C x d
        scale = head_dim**-0.5
        self.query = nn.Linear(c, heads * c)  # -> heads x C: W_k,h^T (W_q,h q + b_q,h) * scale
        self.output = nn.Linear(heads * c, c)  # heads x C -> C: W_o sum_h (W_v,h x_h + b_v,h) + b_o
        with torch.no_grad():
            self.query.weight.copy_((wk.transpose(1, 2) @ wq).reshape(heads * c, c) * scale)
            self.query.bias.copy_((wk.transpose(1, 2) @ bq[:, :, None]).reshape(heads * c) * scale)
            self.output.weight.copy_((wo @ wv).permute(1, 0, 2).reshape(c, heads * c))
            self.output.bias.copy_((wo @ bv[:, :, None]).sum(0)[:, 0] + attn.out_proj.bias)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        b, t, c = queries.shape
        folded = self.query(queries).reshape(b, t * self.heads, c)  # rows (token, head)
        weights = torch.softmax(torch.bmm(folded, keys.transpose(1, 2)), dim=-1)  # B x T heads x HW
        gathered = torch.bmm(weights, values).reshape(b, t, self.heads * c)
        return self.output(gathered)


class _ImageToToken(nn.Module):
    """``Attention`` with many queries (image tokens) and few keys (tokens), image-side
    projections folded: per head ``h``, ``score = image . (W_q,h^T k_h) + b_q,h . k_h`` and the
    output projection applied to the values, ``out = sum_h A_h (W_o,h v_h) + b_o``. ``queries``
    (image + PE) ``B x HW x C``; ``keys`` (tokens + PE) and ``values`` ``B x T x C``; ``caps``
    ``B x T`` score caps of the tokens (unused slots, see :mod:`~tinysam_mobile.modeling.transformer`)."""

    def __init__(self, attn: Attention) -> None:
        super().__init__()
        heads, c = attn.num_heads, attn.q_proj.in_features
        head_dim = attn.q_proj.out_features // heads
        self.heads = heads
        wq, bq = _head_blocks(attn.q_proj.weight, heads), attn.q_proj.bias.reshape(heads, head_dim)
        wk, bk = _head_blocks(attn.k_proj.weight, heads), attn.k_proj.bias.reshape(heads, head_dim)
        wv, bv = _head_blocks(attn.v_proj.weight, heads), attn.v_proj.bias.reshape(heads, head_dim)
        wo = attn.out_proj.weight.reshape(c, heads, head_dim).permute(1, 0, 2)  # heads x C x d
        scale = head_dim**-0.5
        self.key = nn.Linear(c, heads * c)  # -> heads x C: W_q,h^T (W_k,h k + b_k,h) * scale
        self.key_bias = nn.Linear(c, heads)  # -> heads: b_q,h . (W_k,h k + b_k,h) * scale
        self.value = nn.Linear(c, heads * c)  # -> heads x C: W_o,h (W_v,h v + b_v,h)
        self.bias = nn.Parameter(attn.out_proj.bias.detach().clone(), requires_grad=False)
        with torch.no_grad():
            self.key.weight.copy_((wq.transpose(1, 2) @ wk).reshape(heads * c, c) * scale)
            self.key.bias.copy_((wq.transpose(1, 2) @ bk[:, :, None]).reshape(heads * c) * scale)
            self.key_bias.weight.copy_((bq[:, None, :] @ wk)[:, 0] * scale)
            self.key_bias.bias.copy_((bq * bk).sum(1) * scale)
            self.value.weight.copy_((wo @ wv).reshape(heads * c, c))
            self.value.bias.copy_((wo @ bv[:, :, None]).reshape(heads * c))

    def _by_head(self, x: torch.Tensor) -> torch.Tensor:
        """``B x T x (heads C)`` -> ``B x (heads T) x C``, rows head-major (a softmax group is one
        head's T contiguous columns)."""
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, -1).permute(0, 2, 1, 3).reshape(b, self.heads * t, -1)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, caps: torch.Tensor
    ) -> torch.Tensor:
        b, hw, _ = queries.shape
        t = keys.shape[1]
        folded = self._by_head(self.key(keys))  # B x heads T x C
        offsets = self.key_bias(keys).transpose(1, 2).reshape(b, 1, self.heads * t)
        scores = torch.bmm(queries, folded.transpose(1, 2)) + offsets  # B x HW x heads T
        scores = torch.minimum(scores, torch.cat([caps] * self.heads, dim=1).reshape(b, 1, self.heads * t))
        weights = torch.softmax(scores.reshape(b, hw, self.heads, t), dim=-1).reshape(b, hw, self.heads * t)
        return torch.bmm(weights, self._by_head(self.value(values))) + self.bias


class _Unfolded(nn.Module):
    """``Attention`` with :class:`_TokenToImage`'s call signature (queries, keys, values)."""

    def __init__(self, attn: Attention) -> None:
        super().__init__()
        self.attn = attn

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        a = self.attn
        return _attend(a, a.q_proj(queries), a.k_proj(keys), a.v_proj(values))


class _FoldedBlock(nn.Module):
    """A ``TwoWayAttentionBlock`` with both cross-attentions folded (:class:`_TokenToImage`,
    :class:`_ImageToToken`); token self-attention, norms and MLP are the block's own."""

    def __init__(self, block: TwoWayAttentionBlock) -> None:
        super().__init__()
        self.block = block
        self.token_to_image = _TokenToImage(block.cross_attn_token_to_image)
        self.image_to_token = _ImageToToken(block.cross_attn_image_to_token)

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
        caps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.block
        if block.skip_first_layer_pe:
            queries = block.self_attn(q=queries, k=queries, v=queries, key_caps=caps)
        else:
            q = queries + query_pe
            queries = queries + block.self_attn(q=q, k=q, v=queries, key_caps=caps)
        queries = block.norm1(queries)
        keys_pe = keys + key_pe
        queries = block.norm2(queries + self.token_to_image(queries + query_pe, keys_pe, keys))
        queries = block.norm3(queries + block.mlp(queries))
        return queries, block.norm4(keys + self.image_to_token(keys_pe, queries + query_pe, queries, caps))


class _MaskEmbedding(nn.Module):
    """SAM's mask downscaling up to (not including) its last 1x1 conv, in token layout:
    ``B x 1 x 256 x 256`` logits -> ``B x 64² x mask_in_chans``."""

    def __init__(self, downscaling: nn.Sequential) -> None:
        super().__init__()
        conv1, norm1, act1, conv2, norm2, act2, _ = downscaling
        self.conv1, self.norm1, self.act1 = _conv_as_linear(conv1), _layer_norm_last(norm1), act1
        self.conv2, self.norm2, self.act2 = _conv_as_linear(conv2), _layer_norm_last(norm2), act2

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        b = masks.shape[0]
        x = _space_to_depth(masks.reshape(b, LOW_RES_SIZE * LOW_RES_SIZE, 1), LOW_RES_SIZE)
        x = self.act1(self.norm1(self.conv1(x)))
        x = _space_to_depth(x, LOW_RES_SIZE // 2)
        return self.act2(self.norm2(self.conv2(x)))


class _Upscaling(nn.Module):
    """SAM's output upscaling + hypernetwork product in blocked token layout:
    image tokens ``B x 64² x C`` and hypernetwork weights ``B x M x C/8`` -> ``B x M x 256 x 256``."""

    def __init__(self, upscaling: nn.Sequential, size: int) -> None:
        super().__init__()
        deconv1, norm, act1, deconv2, act2 = upscaling
        self.up1, self.norm, self.act1 = _deconv_as_linear(deconv1), _layer_norm_last(norm), act1
        self.up2, self.act2 = _deconv_as_linear(deconv2), act2
        self.size = size

    def forward(self, tokens: torch.Tensor, hyper: torch.Tensor) -> torch.Tensor:
        b, hw, _ = tokens.shape
        c1, c2, m, s = self.up1.out_features // 4, self.up2.out_features // 4, hyper.shape[1], self.size
        x = self.act1(self.norm(self.up1(tokens).reshape(b, hw * 4, c1)))
        x = self.act2(self.up2(x).reshape(b, hw * 16, c2))
        masks = torch.bmm(x, hyper.transpose(1, 2))  # B x (i, j, a, b, a', b') x M
        # Pixel (4i + 2a + a', 4j + 2b + b'); at most 5 dimensions per step (Core ML's limit):
        # [B i], j, a, b, [a' b' m] -> [B i], a, j, b, [a' b' m]
        masks = masks.reshape(b * s, s, 2, 2, 4 * m).permute(0, 2, 1, 3, 4)
        # [B i a], [j b], a', b', m -> [B i a], m, a', [j b], b'
        masks = masks.reshape(b * 2 * s, 2 * s, 2, 2, m).permute(0, 4, 2, 1, 3)
        # B, [i a], m, [a' j b b'] -> B, m, [i a], [a' j b b']
        masks = masks.reshape(b, 2 * s, m, 8 * s).permute(0, 2, 1, 3)
        return masks.reshape(b, m, 4 * s, 4 * s)


class DecoderModule(nn.Module):
    """The decoder program: inputs and outputs of :mod:`tinysam_mobile.contract` (``B`` prompts of
    ``N`` slots against one ``1 x C x S x S`` embedding -> ``B x 3 x 4S x 4S`` logits, ``B x 3``
    IoUs); see the module docstring. It shares most weights with ``model``, but the folded and
    rearranged ones are copies made at construction: build it from the final weights.

    ``fold``: fold the image-side projections of the two-way blocks after the first and of the
    final attention onto the token side (see the module docstring)."""

    def __init__(self, model: Sam, fold: bool = False) -> None:
        super().__init__()
        pe, dec = model.prompt_encoder, model.mask_decoder
        self.prompt_encoder = pe
        size = pe.image_embedding_size
        with torch.no_grad():
            dense_pe = pe.get_dense_pe()
            self.register_buffer("image_pe", dense_pe.permute(0, 2, 3, 1).reshape(1, size * size, -1).clone())
        no_mask = pe.no_mask_embed.weight.reshape(-1).detach()
        self.register_buffer("no_mask", no_mask.clone())
        self.mask_embedding = _MaskEmbedding(pe.mask_downscaling)
        last = _conv_as_linear(pe.mask_downscaling[-1])
        self.mask_delta = nn.Linear(last.in_features, last.out_features)  # embed_mask - no_mask
        with torch.no_grad():
            self.mask_delta.weight.copy_(last.weight)
            self.mask_delta.bias.copy_(last.bias - no_mask)
        first: TwoWayAttentionBlock = dec.transformer.layers[0]
        self.first = first
        self.first_k = _FoldedProjection(first.cross_attn_token_to_image.k_proj, last, no_mask)
        self.first_v = _FoldedProjection(first.cross_attn_token_to_image.v_proj, last, no_mask)
        self.first_q = _FoldedProjection(first.cross_attn_image_to_token.q_proj, last, no_mask)
        layers = dec.transformer.layers[1:]
        self.rest = nn.ModuleList(_FoldedBlock(layer) if fold else layer for layer in layers)
        final = dec.transformer.final_attn_token_to_image
        self.final_attn = _TokenToImage(final) if fold else _Unfolded(final)
        self.norm_final = dec.transformer.norm_final_attn
        self.output_tokens = nn.Parameter(
            torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], dim=0).detach(), requires_grad=False
        )
        self.num_outputs = 1 + dec.num_mask_tokens
        self.hypernetworks = nn.ModuleList(list(dec.output_hypernetworks_mlps)[1:])  # mask tokens 1..3
        self.iou_head = dec.iou_prediction_head
        self.upscaling = _Upscaling(dec.output_upscaling, size)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = point_coords.shape[0]
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels)
        out_caps = torch.full((batch, self.num_outputs), SLOT_SCORE_CAP)
        caps = torch.cat((out_caps, self.prompt_encoder.slot_caps(point_labels)), dim=1)
        tokens = torch.cat((self.output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse), dim=1)
        _, c, s, _ = image_embeddings.shape
        shared = image_embeddings.permute(0, 2, 3, 1).reshape(1, s * s, c) + self.no_mask
        h = self.mask_embedding(mask_input)
        has_mask = has_mask_input.reshape(-1, 1, 1)
        keys = shared + has_mask * self.mask_delta(h)  # embedding + dense prompt, B x HW x C
        queries, keys = self._first_block(tokens, keys, shared, h, has_mask, caps)
        for block in self.rest:
            queries, keys = block(queries, keys, tokens, self.image_pe, caps)
        return self._outputs(queries, keys, tokens)

    def _first_block(
        self,
        tokens: torch.Tensor,
        keys: torch.Tensor,
        shared: torch.Tensor,
        h: torch.Tensor,
        has_mask: torch.Tensor,
        caps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first two-way block with its image-side projections shared across prompts."""
        block, pe = self.first, self.image_pe
        queries = block.self_attn(q=tokens, k=tokens, v=tokens, key_caps=caps)  # skip_first_layer_pe
        queries = block.norm1(queries)
        t2i = block.cross_attn_token_to_image
        k = self.first_k(shared + pe, h, has_mask)
        v = self.first_v(shared, h, has_mask)
        queries = block.norm2(queries + _attend(t2i, t2i.q_proj(queries + tokens), k, v))
        queries = block.norm3(queries + block.mlp(queries))
        i2t = block.cross_attn_image_to_token
        q_tokens = queries + tokens
        q = self.first_q(shared + pe, h, has_mask)
        out = _attend(i2t, q, i2t.k_proj(q_tokens), i2t.v_proj(queries), caps)
        return queries, block.norm4(keys + out)

    def _outputs(
        self, queries: torch.Tensor, keys: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The final token-to-image attention for the IoU token and mask tokens 1..3 (each query
        attends on its own, so the others need not be computed), the hypernetworks, the masks."""
        n = self.num_outputs  # IoU token, mask tokens 0..3; mask token 0 is not returned

        def returned(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x[:, :1], x[:, 2:n]], dim=1)

        queries = returned(queries)
        q = queries + returned(tokens)
        queries = self.norm_final(queries + self.final_attn(q, keys + self.image_pe, keys))
        hyper = torch.stack([mlp(queries[:, 1 + i]) for i, mlp in enumerate(self.hypernetworks)], dim=1)
        masks = self.upscaling(keys, hyper)
        return masks, self.iou_head(queries[:, 0])[:, 1:]
