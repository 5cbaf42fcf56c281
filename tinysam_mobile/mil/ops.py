"""MIL operations in torch, for executing Core ML ML Programs where Core ML does not run.

Each entry of ``OPS`` takes the op's inputs by their MIL names and returns its output(s). Runtime
tensors arrive as torch tensors (floating ones upcast to float32); constant attributes arrive as
torch tensors (arrays), Python scalars or strings. The interpreter rounds every output to the
dtype the program declares for it, so an fp16 program stores every intermediate in fp16 while each
op computes in float32 (the storage precision of Core ML's fp16 backends; their accumulation
precision inside an op is not modelled).

Compile-time decompression ops (``constexpr_*``) take and return NumPy arrays: they run once, when
a program is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

Op = Callable[..., Any]


def ints(value: Any) -> list[int]:
    """A constant int vector (or scalar) as a list of Python ints."""
    return [int(v) for v in np.atleast_1d(np.asarray(value))]


def scalar(value: Any) -> Any:
    """A constant scalar as a Python number or bool."""
    return np.asarray(value).item()


def _conv_padding(pad_type: str, pad: Any, kernel: list[int], strides: list[int], dilations: list[int], x):
    """Explicit ``[(before, after)]`` per spatial dim for MIL's ``pad_type``."""
    if pad_type == "valid":
        return [(0, 0)] * len(kernel)
    if pad_type == "custom":
        p = ints(pad)
        return list(zip(p[0::2], p[1::2], strict=True))
    if pad_type in ("same", "same_lower"):
        result = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            result.append((large, small) if pad_type == "same_lower" else (small, large))
        return result
    raise NotImplementedError(f"conv pad_type {pad_type!r}")


def conv(x, weight, bias=None, strides=None, pad_type="valid", pad=None, dilations=None, groups=1):
    spatial = weight.dim() - 2
    strides = ints(strides) if strides is not None else [1] * spatial
    dilations = ints(dilations) if dilations is not None else [1] * spatial
    padding = _conv_padding(pad_type, pad, list(weight.shape[2:]), strides, dilations, x)
    flat = [v for before_after in reversed(padding) for v in before_after]
    if any(flat):
        x = F.pad(x, flat)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[spatial]
    return fn(
        x, weight.float(), None if bias is None else bias.float(), strides, 0, dilations, scalar(groups)
    )


def conv_transpose(
    x,
    weight,
    bias=None,
    pad=None,
    output_shape=None,
    pad_type="valid",
    strides=None,
    dilations=None,
    groups=1,
):
    spatial = weight.dim() - 2
    strides = ints(strides) if strides is not None else [1] * spatial
    dilations = ints(dilations) if dilations is not None else [1] * spatial
    if pad_type != "valid" and (pad_type != "custom" or any(ints(pad)[0::2]) != any(ints(pad)[1::2])):
        raise NotImplementedError(f"conv_transpose pad_type {pad_type!r} with pad {pad}")
    padding = ints(pad)[0::2] if pad_type == "custom" else [0] * spatial
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[spatial]
    out = fn(
        x,
        weight.float(),
        None if bias is None else bias.float(),
        strides,
        padding,
        0,
        scalar(groups),
        dilations,
    )
    if output_shape is not None and list(out.shape) != ints(output_shape):
        raise NotImplementedError(f"conv_transpose output_shape {ints(output_shape)} != {list(out.shape)}")
    return out


def linear(x, weight, bias=None):
    return F.linear(x, weight.float(), None if bias is None else bias.float())


def matmul(x, y, transpose_x=False, transpose_y=False):
    x = x.transpose(-1, -2) if scalar(transpose_x) else x
    y = y.transpose(-1, -2) if scalar(transpose_y) else y
    return torch.matmul(x.float(), y.float())


def layer_norm(x, axes=None, gamma=None, beta=None, epsilon=1e-5):
    dims = [a % x.dim() for a in ints(axes)] if axes is not None else list(range(x.dim()))
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    out = (x - mean) / torch.sqrt(var + scalar(epsilon))
    if gamma is not None:
        out = out * gamma.float()
    return out + beta.float() if beta is not None else out


def batch_norm(x, mean, variance, gamma=None, beta=None, epsilon=1e-5):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    out = (x - mean.float().view(shape)) / torch.sqrt(variance.float().view(shape) + scalar(epsilon))
    if gamma is not None:
        out = out * gamma.float().view(shape)
    return out + beta.float().view(shape) if beta is not None else out


def gelu(x, mode="EXACT"):
    approximate = {"EXACT": "none", "TANH_APPROXIMATION": "tanh"}.get(mode)
    if approximate is None:
        if mode == "SIGMOID_APPROXIMATION":
            return x * torch.sigmoid(1.702 * x)
        raise NotImplementedError(f"gelu mode {mode!r}")
    return F.gelu(x, approximate=approximate)


def pad(x, pad, mode="constant", constant_val=0.0):
    p = ints(pad)
    flat = [v for i in reversed(range(0, len(p), 2)) for v in (p[i], p[i + 1])]
    if mode == "constant":
        return F.pad(x, flat, value=scalar(constant_val))
    raise NotImplementedError(f"pad mode {mode!r}")


def slice_by_index(x, begin, end, stride=None, begin_mask=None, end_mask=None, squeeze_mask=None):
    rank = x.dim()
    begin, end = ints(begin), ints(end)
    stride = ints(stride) if stride is not None else [1] * rank
    begin_mask = [bool(v) for v in np.asarray(begin_mask)] if begin_mask is not None else [False] * rank
    end_mask = [bool(v) for v in np.asarray(end_mask)] if end_mask is not None else [False] * rank
    squeeze = [bool(v) for v in np.asarray(squeeze_mask)] if squeeze_mask is not None else [False] * rank
    index: list[Any] = []
    for d in range(rank):
        if squeeze[d]:
            index.append(begin[d])
            continue
        if stride[d] < 0:
            raise NotImplementedError("slice_by_index with a negative stride")
        start = None if begin_mask[d] else begin[d]
        stop = None if end_mask[d] else end[d]
        index.append(slice(start, stop, stride[d]))
    return x[tuple(index)]


def _reduce(fn: Callable) -> Op:
    def reduce(x, axes=None, keep_dims=False):
        dims = ints(axes) if axes is not None else list(range(x.dim()))
        return fn(x, dim=dims, keepdim=bool(scalar(keep_dims)))

    return reduce


def concat(values, axis, interleave=False):
    if scalar(interleave):
        raise NotImplementedError("concat with interleave")
    return torch.cat([v.float() if v.is_floating_point() else v for v in values], scalar(axis))


def stack(values, axis):
    return torch.stack([v.float() if v.is_floating_point() else v for v in values], scalar(axis))


def split(x, axis, num_splits=None, split_sizes=None):
    sizes = ints(split_sizes) if split_sizes is not None else x.shape[scalar(axis)] // scalar(num_splits)
    return tuple(torch.split(x, sizes, scalar(axis)))


def expand_dims(x, axes):
    out = x
    for axis in sorted(a % (x.dim() + len(ints(axes))) for a in ints(axes)):
        out = out.unsqueeze(axis)
    return out


def squeeze(x, axes=None):
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(ints(axes)))


def clip(x, alpha, beta):
    return torch.clamp(x, scalar(alpha), scalar(beta))


def cast(x, dtype):
    return x  # the interpreter rounds to the declared output dtype


def _integer_storage(dtype: torch.dtype) -> tuple[int, int]:
    info = torch.iinfo(dtype)
    return info.min, info.max


def _per_axis(value, x, axis) -> torch.Tensor:
    """A scale / zero point broadcast along ``axis`` of ``x`` (a scalar broadcasts as is)."""
    value = torch.as_tensor(value)
    if value.dim() == 0 or axis is None:
        return value
    shape = [1] * x.dim()
    shape[scalar(axis) % x.dim()] = -1
    return value.reshape(shape)


def quantize(input, scale, output_dtype, zero_point=None, axis=None):
    dtype = {"int8": torch.int8, "uint8": torch.uint8}[output_dtype]
    low, high = _integer_storage(dtype)
    zp = _per_axis(zero_point, input, axis).float() if zero_point is not None else 0.0
    q = torch.round(input.float() / _per_axis(scale, input, axis).float()) + zp
    return torch.clamp(q, low, high).to(dtype)


def dequantize(input, scale, zero_point=None, axis=None):
    zp = _per_axis(zero_point, input, axis).float() if zero_point is not None else 0.0
    return (input.float() - zp) * _per_axis(scale, input, axis).float()


def _binary(fn: Callable) -> Op:
    return lambda x, y: fn(x, y)


def _unary(fn: Callable) -> Op:
    return lambda x: fn(x)


OPS: dict[str, Op] = {
    "conv": conv,
    "conv_transpose": conv_transpose,
    "linear": linear,
    "matmul": matmul,
    "layer_norm": layer_norm,
    "batch_norm": batch_norm,
    "gelu": gelu,
    "softmax": lambda x, axis=-1: torch.softmax(x, scalar(axis)),
    "pad": pad,
    "slice_by_index": slice_by_index,
    "reshape": lambda x, shape: x.reshape(ints(shape)),
    "transpose": lambda x, perm: x.permute(ints(perm)),
    "concat": concat,
    "stack": stack,
    "split": split,
    "expand_dims": expand_dims,
    "squeeze": squeeze,
    "reduce_mean": _reduce(torch.mean),
    "reduce_sum": _reduce(torch.sum),
    "reduce_max": _reduce(torch.amax),
    "add": _binary(torch.add),
    "sub": _binary(torch.sub),
    "mul": _binary(torch.mul),
    "real_div": _binary(torch.div),
    "pow": _binary(torch.pow),
    "maximum": _binary(torch.maximum),
    "minimum": _binary(torch.minimum),
    "sqrt": _unary(torch.sqrt),
    "rsqrt": lambda x, epsilon=1e-12: torch.rsqrt(x + scalar(epsilon)),
    "exp": _unary(torch.exp),
    "abs": _unary(torch.abs),
    "relu": _unary(torch.relu),
    "sigmoid": _unary(torch.sigmoid),
    "tanh": _unary(torch.tanh),
    "sin": _unary(torch.sin),
    "cos": _unary(torch.cos),
    "clip": clip,
    "cast": cast,
    "quantize": quantize,
    "dequantize": dequantize,
}


def affine_dequantize(quantized_data: np.ndarray, zero_point, scale, axis) -> np.ndarray:
    """``constexpr_affine_dequantize``: ``(q - zero_point) * scale`` along ``axis``."""
    q = quantized_data.astype(np.float32)
    shape = [1] * q.ndim
    shape[int(axis) % q.ndim] = -1
    zp = np.asarray(zero_point, np.float32)
    sc = np.asarray(scale, np.float32)
    zp = zp.reshape(shape) if zp.ndim else zp
    sc = sc.reshape(shape) if sc.ndim else sc
    return ((q - zp) * sc).astype(np.asarray(scale).dtype)


def unpack_bits(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """``count`` unsigned ``nbits``-bit values packed LSB first into bytes (Core ML's layout)."""
    bits = np.unpackbits(packed.astype(np.uint8), bitorder="little")[: count * nbits]
    weights = (1 << np.arange(nbits)).astype(np.uint16)
    return (bits.reshape(count, nbits) * weights).sum(axis=1).astype(np.uint16)


def lut_to_dense(indices: np.ndarray, lut: np.ndarray, shape) -> np.ndarray:
    """``constexpr_lut_to_dense`` (iOS16 form): packed indices into a per-tensor palette."""
    nbits = int(np.log2(lut.size))
    if lut.ndim != 1 or 1 << nbits != lut.size:
        raise NotImplementedError(f"constexpr_lut_to_dense with a lut of shape {lut.shape}")
    count = int(np.prod(ints(shape)))
    return lut[unpack_bits(indices, nbits, count)].reshape(ints(shape))


CONSTEXPR_OPS: dict[str, Op] = {
    "constexpr_affine_dequantize": affine_dequantize,
    "constexpr_lut_to_dense": lut_to_dense,
}
