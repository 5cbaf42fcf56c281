"""ExecuTorch target: XNNPACK-delegated ``.pte`` programs, fp32 or PT2E static int8 (``w8a8``).

Stages (each a function, so a failure names its stage): ``xnnpack_ready`` -> ``export_program``
-> ``quantize`` (int8 only) -> ``lower`` -> ``serialize``.

Rewrites that make the programs lower and load:

* LayerNorm over the last dim (``nn.LayerNorm``) and over channels (``LayerNorm2d``) become
  means computed by a 1-output linear / 1x1 conv, then sub / mul / rsqrt / add, so they are
  delegated: XNNPACK has no layer-norm and its ``mean`` only pools spatially. (Measured in
  isolation this is as fast as the portable layer-norm kernel; it removes partition breaks.)
* ``w8a8``: the module classes the recipe's ``[program.xnnpack] float_modules`` names stay float
  (the shipped recipe: the norms and TinyViT's attention score core); the quantizer covers the
  linears, the convs and the adds / muls, per-channel weights when ``per_channel``.
  ``sandwich_shape_ops`` puts q/dq pairs around shape ops at quantization boundaries, which
  XNNPACK otherwise refuses at load time. The model
  pads TinyViT windows after the attention norm, so XNNPACK never sees the quantized constant-pad
  it rejects (``xnn_define_static_constant_pad``: invalid parameter).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from tinysam_mobile.modeling import Sam
from tinysam_mobile.modeling.common import LayerNorm2d
from tinysam_mobile.modeling.tiny_vit import BiasedAttentionCore

from .base import Backend, ProgramJob


class GemmLayerNorm(nn.Module):
    """LayerNorm over the last dim with the means as 1-output linears (XNNPACK-friendly)."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        (dim,) = norm.normalized_shape
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.register_buffer("average", torch.full((1, dim), 1.0 / dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centered = x - F.linear(x, self.average)
        var = F.linear(centered * centered, self.average)
        return centered * torch.rsqrt(var + self.eps) * self.weight + self.bias


class ConvLayerNorm2d(nn.Module):
    """``LayerNorm2d`` with the channel means as 1x1 convs (XNNPACK-friendly)."""

    def __init__(self, norm: LayerNorm2d) -> None:
        super().__init__()
        dim = norm.weight.shape[0]
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.register_buffer("average", torch.full((1, dim, 1, 1), 1.0 / dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centered = x - F.conv2d(x, self.average)
        var = F.conv2d(centered * centered, self.average)
        normed = centered * torch.rsqrt(var + self.eps)
        return normed * self.weight[:, None, None] + self.bias[:, None, None]


# Module classes a w8a8 recipe may keep float, by the name recipes use.
FLOAT_MODULE_TYPES: dict[str, type[nn.Module]] = {
    t.__name__: t for t in (GemmLayerNorm, ConvLayerNorm2d, BiasedAttentionCore)
}


def xnnpack_ready(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (a model or a program wrapper) with every LayerNorm replaced by its
    XNNPACK-friendly form."""
    module = copy.deepcopy(module).eval()
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.LayerNorm):
                setattr(parent, name, GemmLayerNorm(child))
            elif isinstance(child, LayerNorm2d):
                setattr(parent, name, ConvLayerNorm2d(child))
    return module


def batch_dims(job: ProgramJob) -> tuple[dict[int, object], ...] | None:
    """``torch.export`` dynamic shapes of a job whose program takes 1 to ``max_batch`` prompts:
    the first axis of every input but the shared embedding (``None`` for static programs)."""
    if job.max_batch == 1:
        return None
    prompts = torch.export.Dim("prompts", min=1, max=job.max_batch)
    return ({}, *({0: prompts} for _ in job.inputs[1:]))


def export_program(
    module: nn.Module, example: tuple[torch.Tensor, ...], dynamic_shapes: tuple | None = None
) -> torch.export.ExportedProgram:
    """``torch.export`` (``module`` is already in eval mode); static shapes unless
    ``dynamic_shapes`` says otherwise."""
    with torch.no_grad():
        return torch.export.export(module, example, dynamic_shapes=dynamic_shapes)


def quantize(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    samples: Iterable[tuple[torch.Tensor, ...]],
    options: dict[str, Any],
    dynamic_shapes: tuple | None = None,
) -> torch.export.ExportedProgram:
    """PT2E static W8A8 calibrated on ``samples``; the ``float_modules`` of ``options`` stay float."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = get_symmetric_quantization_config(is_per_channel=options["per_channel"])
    quantizer = XNNPACKQuantizer().set_global(config)
    for name in options["float_modules"]:
        quantizer.set_module_type(FLOAT_MODULE_TYPES[name], None)
    graph = export_program(module, example, dynamic_shapes).module()
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for args in samples:
            prepared(*args)
    converted = convert_pt2e(prepared)
    sandwich_shape_ops(converted)
    return export_program(converted, example, dynamic_shapes)


_SHAPE_OPS = {
    torch.ops.aten.view.default,
    torch.ops.aten.reshape.default,
    torch.ops.aten.permute.default,
    torch.ops.aten.transpose.int,
    torch.ops.aten.flatten.using_ints,
    torch.ops.aten.slice.Tensor,
}


def _is(node: object, targets: set | object) -> bool:
    if not isinstance(node, torch.fx.Node) or node.op != "call_function":
        return False
    return node.target in targets if isinstance(targets, set) else node.target == targets


def sandwich_shape_ops(graph_module: torch.fx.GraphModule) -> None:
    """Give every shape op at a quantization boundary a quantize/dequantize pair on both sides.

    XNNPACK lowers a reshape / permute / slice that touches a quantized tensor as a quantized
    op, and refuses to load it (``xnn_define_static_reshape``: invalid parameter) when its other
    side is float: ``float op -> view -> quantize`` (e.g. attention heads merged before the
    output projection) or ``dequantize -> view -> float op`` (heads split before the float batched
    matmul). Inserting ``quantize -> dequantize`` with the boundary's own parameters on the
    float side changes no value (the tensor is on that grid already, or is about to be put on it).
    """
    q_op = torch.ops.quantized_decomposed.quantize_per_tensor.default  # registered by torchao
    dq_op = torch.ops.quantized_decomposed.dequantize_per_tensor.default
    graph = graph_module.graph
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if _is(node, q_op) and _is(node.args[0], _SHAPE_OPS):
                shape_op = node.args[0]
                source = shape_op.args[0]
                if isinstance(source, torch.fx.Node) and not _is(source, dq_op):
                    with graph.inserting_before(shape_op):
                        q = graph.call_function(q_op, (source, *node.args[1:]))
                        dq = graph.call_function(dq_op, (q, *node.args[1:]))
                    shape_op.replace_input_with(source, dq)
                    changed = True
            elif _is(node, dq_op):
                for user in list(node.users):
                    if _is(user, _SHAPE_OPS) and not any(_is(u, q_op) for u in user.users):
                        with graph.inserting_after(user):
                            q = graph.call_function(q_op, (user, *node.args[1:]))
                        with graph.inserting_after(q):
                            dq = graph.call_function(dq_op, (q, *node.args[1:]))
                        user.replace_all_uses_with(dq, delete_user_cb=lambda u, q=q: u is not q)
                        changed = True
    graph.lint()
    graph_module.recompile()


def lower(program: torch.export.ExportedProgram):
    """Delegate to XNNPACK and produce the ExecuTorch program."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()


def serialize(executorch_program, path: Path) -> Path:
    """Write the ``.pte`` flatbuffer."""
    path.write_bytes(executorch_program.buffer)
    return path


def prepare(model: Sam) -> Sam:
    """The model as is: :func:`convert_program` makes each program wrapper XNNPACK-friendly
    (the decoder program builds norms of its own from the model's)."""
    return model


def needs_calibration(scheme: str) -> bool:
    return scheme == "w8a8"


class ExecuTorchBackend(Backend):
    """XNNPACK-delegated ExecuTorch programs (see the module docstring)."""

    schemes = frozenset({"fp32", "w8a8"})
    options_table = "xnnpack"
    # The decoder takes 1 to 64 prompts per call (a dynamic first axis; benchmarks/DECODER_BATCH.md).
    decoder_batch = 64

    def folds_decoder_attention(self, scheme: str) -> bool:
        """fp32: XNNPACK's batch matmul makes the folded attention pay; w8a8: the folded matmuls
        would stay float while the projections they replace run as int8 GEMMs
        (benchmarks/DECODER_FLOOR.md)."""
        return scheme == "fp32"

    def check_options(self, scheme: str, program: str, options: dict[str, Any]) -> dict[str, Any]:
        """The recipe's ``xnnpack`` options: none for ``fp32``; ``float_modules`` (names of
        :data:`FLOAT_MODULE_TYPES`) and ``per_channel`` (bool, default true) for ``w8a8``."""
        if scheme == "fp32":
            if options:
                raise ValueError(f"scheme 'fp32' takes no options, got {sorted(options)}")
            return options
        unknown = sorted(set(options) - {"float_modules", "per_channel"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; allowed: ['float_modules', 'per_channel']")
        names = options.get("float_modules", [])
        if not isinstance(names, list) or not all(n in FLOAT_MODULE_TYPES for n in names):
            raise ValueError(
                f"float_modules: expected names among {sorted(FLOAT_MODULE_TYPES)}, got {names!r}"
            )
        if not isinstance(options.get("per_channel", True), bool):
            raise ValueError(f"per_channel: expected true or false, got {options['per_channel']!r}")
        return {"float_modules": names, "per_channel": options.get("per_channel", True)}

    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        """Export (and for ``int8`` quantize) one program, lower it to XNNPACK, write ``path``."""
        module, dims = xnnpack_ready(job.module), batch_dims(job)
        if job.scheme == "w8a8":
            progress(f"{job.name}: quantize (PT2E W8A8)")
            program = quantize(module, job.example, job.calibration(), job.options, dims)
        else:
            program = export_program(module, job.example, dims)
        progress(f"{job.name}: lower to XNNPACK")
        return serialize(lower(program), path)

    def tool_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"executorch": version("executorch"), "torch": torch.__version__}


BACKEND = ExecuTorchBackend("executorch")
