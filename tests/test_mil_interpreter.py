"""The MIL interpreter, op by op against torch: each small module is converted by coremltools and
its ML Program is executed by the interpreter. Every op the interpreter claims to support must
appear in at least one of these programs."""

from __future__ import annotations

from pathlib import Path

import coremltools as ct
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tinysam_mobile.mil import MilInterpreter, UnsupportedOpError, load_program, supported_ops
from tinysam_mobile.mil.ops import lut_to_dense, unpack_bits


class Fn(nn.Module):
    def __init__(self, fn, *params: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        self.params = nn.ParameterList([nn.Parameter(p, requires_grad=False) for p in params])

    def forward(self, *xs):
        return self.fn(*xs, *self.params)


g = torch.Generator().manual_seed(0)


def r(*shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


# name -> (module, example inputs); names say which MIL op the program is expected to hold.
CASES: dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]] = {
    "conv_custom_pad_stride_groups": (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (r(1, 4, 9, 10),)),
    "conv_dilated_asym": (nn.Conv2d(3, 2, (3, 2), padding=(2, 1), dilation=2), (r(1, 3, 8, 7),)),
    "conv_transpose": (nn.ConvTranspose2d(4, 3, 2, stride=2), (r(1, 4, 5, 6),)),
    "linear": (nn.Linear(5, 7), (r(2, 3, 5),)),
    "matmul": (Fn(lambda a, b: a @ b.transpose(-1, -2)), (r(2, 3, 4), r(2, 5, 4))),
    "layer_norm": (nn.LayerNorm(6), (r(2, 3, 6, scale=3),)),
    "batch_norm": (
        Fn(
            lambda x, mean, var, w, b: F.batch_norm(x.abs(), mean, var, w, b),
            r(3),
            r(3).abs() + 0.5,
            r(3),
            r(3),
        ),
        (r(1, 3, 4, 4),),
    ),
    "gelu_exact": (nn.GELU(), (r(2, 9, scale=3),)),
    "softmax": (Fn(lambda x: torch.softmax(x, -1)), (r(2, 3, 7, scale=4),)),
    "pad": (Fn(lambda x: F.pad(x, (1, 2, 0, 3))), (r(1, 2, 3, 4),)),
    "slice_by_index": (Fn(lambda x: x[:, 1:, ::2, 3] * 2), (r(2, 4, 6, 5),)),
    "reshape_transpose": (Fn(lambda x: x.reshape(2, 3, 4).permute(2, 0, 1) + 1), (r(6, 4),)),
    "concat_stack": (
        Fn(lambda a, b: torch.stack([torch.cat([a, b], -1), torch.cat([b, a], -1)], 1)),
        (r(2, 3), r(2, 3)),
    ),
    "split": (
        Fn(lambda x: torch.split(x, [2, 3], 1)[1] * 2 + torch.split(x, [2, 3], 1)[0].sum(1, keepdim=True)),
        (r(2, 5),),
    ),
    "expand_dims_squeeze": (
        Fn(lambda x: x[:, None] * x.unsqueeze(-1) + x[:, :1].squeeze(1)[:, None, None]),
        (r(2, 3),),
    ),
    "reduce": (
        Fn(lambda x: x.mean(1) + x.sum(-1, keepdim=True).squeeze(-1)[:, :1] + x.amax(-1)[:, :1]),
        (r(2, 3, 3),),
    ),
    "binary": (
        Fn(lambda a, b: torch.maximum(a, b) - torch.minimum(a, b) * a / (b.abs() + 1) + a.abs() ** 1.5),
        (r(3, 4), r(3, 4)),
    ),
    "unary": (
        Fn(lambda x: torch.sqrt(x.abs()) + torch.rsqrt(x.abs() + 1) + torch.exp(-x.abs()) + torch.relu(x)),
        (r(3, 5),),
    ),
    "activations": (
        Fn(lambda x: torch.sigmoid(x) + torch.tanh(x) + torch.sin(x) * torch.cos(x)),
        (r(3, 5, scale=3),),
    ),
    "clip": (Fn(lambda x: torch.clamp(x, -0.5, 0.7)), (r(4, 4),)),
}


def _convert(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path, fp16: bool = False) -> Path:
    program = torch.export.export(module.eval(), example).run_decompositions({})
    mlmodel = ct.convert(
        program,
        inputs=[ct.TensorType(name=f"x{i}", shape=x.shape, dtype=np.float32) for i, x in enumerate(example)],
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32,
        skip_model_load=True,
    )
    mlmodel.save(str(path))
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, MilInterpreter]:
    root = tmp_path_factory.mktemp("mil")
    return {
        name: MilInterpreter(load_program(_convert(module, example, root / f"{name}.mlpackage")))
        for name, (module, example) in CASES.items()
    }


def _run(interpreter: MilInterpreter, example: tuple[torch.Tensor, ...]) -> np.ndarray:
    out = interpreter.run({f"x{i}": x.numpy() for i, x in enumerate(example)})
    (value,) = out.values()
    return value


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_torch(converted, name):
    module, example = CASES[name]
    with torch.no_grad():
        expected = module.eval()(*example).numpy()
    np.testing.assert_allclose(_run(converted[name], example), expected, rtol=1e-5, atol=1e-5)


def test_every_supported_op_is_tested(converted):
    """Ops covered here plus those tested by the dedicated tests below."""
    seen = {op for interpreter in converted.values() for op in interpreter.op_types}
    dedicated = {"cast", "quantize", "dequantize", "constexpr_affine_dequantize", "constexpr_lut_to_dense"}
    assert set(supported_ops()) - seen - dedicated == set()


def test_fp16_program_rounds_every_intermediate(tmp_path):
    """An fp16 program computes with fp16 intermediates: the interpreter matches torch run in
    half precision op by op, and overflows to inf as fp16 does."""
    module = Fn(lambda x: (x * 300.0) ** 2 - 1.0)
    x = r(4, 8)
    interpreter = MilInterpreter(load_program(_convert(module, (x,), tmp_path / "f16.mlpackage", fp16=True)))
    assert "cast" in interpreter.op_types
    expected = (((x.half() * 300.0).float().half() ** 2).float().half() - 1).float()
    got = _run(interpreter, (x,))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected.numpy()))
    finite = np.isfinite(got)
    np.testing.assert_allclose(got[finite], expected.numpy()[finite], rtol=1e-3)
    assert np.isinf(got).any()


def test_quantize_dequantize_match_torch():
    from coremltools.converters.mil.mil import Builder as mb

    scale = np.array([0.02, 0.05, 0.1], np.float32)
    zero_point = np.array([3, -2, 0], np.int8)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3, 4))], opset_version=ct.target.iOS17)
    def program(x):
        q = mb.quantize(input=x, scale=scale, zero_point=zero_point, axis=1, output_dtype="int8")
        return mb.dequantize(input=q, scale=scale, zero_point=zero_point, axis=1)

    x = r(2, 3, 4, scale=3)
    q = torch.quantize_per_channel(
        x, torch.from_numpy(scale).double(), torch.from_numpy(zero_point).long(), 1, torch.qint8
    )
    got = MilInterpreter(program).run({"x": x.numpy()})
    (value,) = got.values()
    np.testing.assert_allclose(value, q.dequantize().numpy(), atol=1e-6)


@pytest.mark.parametrize("mode", ["TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"])
def test_gelu_approximations(mode):
    """coremltools 9 converts torch's tanh GELU to exact GELU, so these modes are built directly."""
    from coremltools.converters.mil.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(3, 7))], opset_version=ct.target.iOS17)
    def program(x):
        return mb.gelu(x=x, mode=mode)

    x = r(3, 7, scale=3)
    expected = F.gelu(x, approximate="tanh") if mode == "TANH_APPROXIMATION" else x * torch.sigmoid(1.702 * x)
    (value,) = MilInterpreter(program).run({"x": x.numpy()}).values()
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-6, atol=1e-6)


def test_unpack_bits_follows_core_ml_layout():
    """The example of the constexpr_lut_to_dense spec: nbits 2, LSB first across bytes."""
    packed = np.array([0b01101100, 0b00000011], np.uint8)
    assert unpack_bits(packed, 2, 5).tolist() == [0, 3, 2, 1, 3]
    lut = np.arange(4, dtype=np.float32) * 10
    assert lut_to_dense(packed, lut, [5]).tolist() == [0, 30, 20, 10, 30]


@pytest.mark.parametrize("compression", ["w8", "palettize4", "palettize6"])
def test_constexpr_decompression_matches_coremltools(tmp_path, compression):
    import coremltools.optimize as cto

    module, example = nn.Sequential(nn.Linear(64, 96), nn.GELU(), nn.Linear(96, 40)), (r(3, 64),)
    mlmodel = ct.models.MLModel(
        str(_convert(module, example, tmp_path / "f.mlpackage")), skip_model_load=True
    )
    if compression == "w8":
        config = cto.coreml.OpLinearQuantizerConfig(mode="linear_symmetric", weight_threshold=0)
        compressed = cto.coreml.linear_quantize_weights(mlmodel, cto.coreml.OptimizationConfig(config))
    else:
        config = cto.coreml.OpPalettizerConfig(mode="kmeans", nbits=int(compression[-1]), weight_threshold=0)
        compressed = cto.coreml.palettize_weights(mlmodel, cto.coreml.OptimizationConfig(config))
    compressed.save(str(tmp_path / "c.mlpackage"))
    program = load_program(tmp_path / "c.mlpackage")
    constexpr = [op for op in program.functions["main"].operations if op.op_type.startswith("constexpr")]
    assert len(constexpr) == 2
    interpreter = MilInterpreter(program)
    for op in constexpr:
        np.testing.assert_array_equal(
            interpreter._constants[op.outputs[0].name].numpy(), op.materialized_val_inference()
        )
    with torch.no_grad():
        expected = module(*example).numpy()
    tolerance = {"w8": 0.02, "palettize6": 0.05, "palettize4": 0.2}[compression]
    assert np.abs(_run(interpreter, example) - expected).max() < tolerance


def test_unsupported_op_is_a_clear_error():
    from coremltools.converters.mil.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3))], opset_version=ct.target.iOS17)
    def program(x):
        return mb.erf(x=x)

    with pytest.raises(UnsupportedOpError, match=r"\['erf'\]"):
        MilInterpreter(program)


def test_load_program_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an .mlpackage"):
        load_program(tmp_path)
    interpreter = MilInterpreter(load_program(_convert(*CASES["clip"], tmp_path / "c.mlpackage")))
    with pytest.raises(ValueError, match="missing inputs"):
        interpreter.run({})
