"""LiteRT target: ``.tflite`` programs converted by litert-torch, quantized by ai-edge-quantizer.

Stages: ``with_shifted_padding`` -> ``export_float`` (litert-torch, static shapes, inputs and outputs named
after the I/O contract) -> ``quantize`` (ai-edge-quantizer, except fp32) -> ``check_builtin_only``.

Schemes and their ``[program.ai_edge_quantizer]`` recipe options (the op lists are LiteRT builtin
operator names, passed to ai-edge-quantizer per op):

* ``fp32``: the converted program as is (no options).
* ``fp16_weights``: fp16 weights of ``float16_weight_ops``, float32 compute.
* ``w8_dynamic``: int8 per-channel weights of ``dynamic_int8_ops`` (``ALL_SUPPORTED`` allowed),
  activations quantized on the fly by the kernels.
* ``w8a8``: static int8 activations and weights on ``static_int8_ops`` only, calibrated on photos
  and sampled prompts; every other op stays float (the shipped recipe's choice of ops and why are in
  its file).

The model is made converter-friendly first: TinyViT blocks fill window padding by shifting
(``pad_by_shift``), or the converter folds a grid-sized constant per block into the file (74 MB
instead of 28 MB for the fp32 encoder).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinysam_mobile.modeling import Sam
from tinysam_mobile.toolchain.export import with_shifted_padding

from .base import Backend, ProgramJob

OPTION_KEYS = {
    "fp32": None,
    "fp16_weights": "float16_weight_ops",
    "w8_dynamic": "dynamic_int8_ops",
    "w8a8": "static_int8_ops",
}
SIGNATURE = "serving_default"


class NamedIO(nn.Module):
    """Takes the contract's inputs by name and returns its outputs as a dict, so the .tflite
    signature carries the contract's names."""

    def __init__(self, module: nn.Module, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
        super().__init__()
        self.module, self.inputs, self.outputs = module, inputs, outputs

    def forward(self, **tensors: torch.Tensor) -> dict[str, torch.Tensor]:
        result = self.module(*(tensors[name] for name in self.inputs))
        result = result if isinstance(result, tuple) else (result,)
        return dict(zip(self.outputs, result, strict=True))


def export_float(module: NamedIO, example: tuple[torch.Tensor, ...], path: Path) -> Path:
    """litert-torch conversion to a float32 ``.tflite``."""
    import litert_torch

    kwargs = dict(zip(module.inputs, example, strict=True))
    with torch.no_grad():
        litert_torch.convert(module.eval(), sample_kwargs=kwargs).export(str(path))
    return path


def _load_config(quantizer, scheme: str, options: dict[str, Any]) -> None:
    """Load the ai-edge-quantizer configuration of ``scheme`` and its options into ``quantizer``."""
    from ai_edge_quantizer import qtyping

    op = qtyping.TFLOperationName
    if scheme == "w8_dynamic":
        for name in options["dynamic_int8_ops"]:
            quantizer.add_dynamic_config(".*", op[name], num_bits=8)
    elif scheme == "w8a8":
        for name in options["static_int8_ops"]:
            quantizer.add_static_config(".*", op[name], activation_num_bits=8, weight_num_bits=8)
    elif scheme == "fp16_weights":
        config = qtyping.OpQuantizationConfig(
            weight_tensor_config=qtyping.TensorQuantizationConfig(
                num_bits=16, dtype=qtyping.TensorDataType.FLOAT
            ),
            compute_precision=qtyping.ComputePrecision.FLOAT,
            explicit_dequantize=True,
        )
        for name in options["float16_weight_ops"]:
            quantizer.update_quantization_recipe(".*", op[name], config, algorithm_key="float_casting")
    else:
        raise ValueError(f"no quantization for scheme {scheme!r}")


def quantize(
    float_path: Path, scheme: str, options: dict[str, Any], samples: Iterable[dict], path: Path
) -> Path:
    """ai-edge-quantizer per ``scheme`` / ``options``; ``samples`` (input name -> array) calibrate int8."""
    from ai_edge_quantizer import quantizer as aeq

    quantizer = aeq.Quantizer(str(float_path))
    _load_config(quantizer, scheme, options)
    calibration = None
    if quantizer.need_calibration:
        calibration = quantizer.calibrate({SIGNATURE: list(samples)}, num_threads=os.cpu_count() or 1)
    quantizer.quantize(calibration).export_model(str(path), overwrite=True)
    return path


def op_inventory(path: Path) -> Counter[str]:
    """Operator counts of a ``.tflite`` as ``"NAME:OUTPUT_DTYPE"`` (custom ops as ``"CUSTOM:code"``)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    counts: Counter[str] = Counter()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for i in range(graph.OperatorsLength()):
            operator = graph.Operators(i)
            code = model.OperatorCodes(operator.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == schema.BuiltinOperator.CUSTOM:
                counts[f"CUSTOM:{code.CustomCode().decode()}"] += 1
                continue
            dtype = dtypes[graph.Tensors(operator.Outputs(0)).Type()]
            counts[f"{op_names.get(builtin, builtin)}:{dtype}"] += 1
    return counts


def constant_bytes(path: Path) -> Counter[str]:
    """Bytes of constant data (weights, biases, tables) per tensor dtype in a ``.tflite``."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    dtypes = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    counts: Counter[str] = Counter()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer())
            size = buffer.DataLength() or buffer.Size()
            if size:
                counts[dtypes[tensor.Type()]] += size
    return counts


def check_builtin_only(path: Path) -> None:
    """Refuse custom and Flex (select TF) ops: stock LiteRT on Android must run the program."""
    custom = sorted(name for name in op_inventory(path) if name.startswith("CUSTOM:"))
    if custom:
        raise RuntimeError(f"{path.name} needs ops stock LiteRT lacks: {', '.join(custom)}")


def needs_calibration(scheme: str) -> bool:
    return scheme == "w8a8"


class LiteRTBackend(Backend):
    """LiteRT programs: litert-torch conversion, ai-edge-quantizer (see the module docstring)."""

    schemes = frozenset({"fp32", "fp16_weights", "w8_dynamic", "w8a8"})
    options_table = "ai_edge_quantizer"
    decoder_batch = 1  # one prompt per decoder call (benchmarks/DECODER_BATCH.md)

    def check_options(self, scheme: str, program: str, options: dict[str, Any]) -> dict[str, Any]:
        """The recipe's ``ai_edge_quantizer`` options of ``scheme``: the one op list it needs, every
        name a LiteRT operator ai-edge-quantizer knows."""
        from ai_edge_quantizer import qtyping

        expected = OPTION_KEYS[scheme]
        if set(options) != ({expected} if expected else set()):
            wanted = f"exactly the key {expected!r}" if expected else "no options"
            raise ValueError(f"scheme {scheme!r} takes {wanted}, got {sorted(options)}")
        if expected:
            ops = options[expected]
            known = qtyping.TFLOperationName.__members__
            if (
                not isinstance(ops, list)
                or not ops
                or not all(isinstance(o, str) and o in known for o in ops)
            ):
                raise ValueError(
                    f"{expected}: expected a list of LiteRT operator names ({', '.join(known)}), got {ops!r}"
                )
        return options

    def prepare(self, model: Sam) -> Sam:
        """The converter-friendly copy of ``model`` (window padding by shifting)."""
        return with_shifted_padding(model)

    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        """litert-torch conversion, ai-edge-quantizer per the scheme, builtin-ops check. Shapes are
        static: the program takes ``example``'s prompt count."""
        module = NamedIO(job.module, job.inputs, job.outputs)
        if job.scheme == "fp32":
            export_float(module, job.example, path)
        else:
            with tempfile.TemporaryDirectory(prefix="tinysam-litert-") as scratch:
                float_path = export_float(module, job.example, Path(scratch) / f"{job.name}.fp32.tflite")
                progress(f"{job.name}: quantize ({job.scheme})")
                quantize(float_path, job.scheme, job.options, job.named_calibration(), path)
        check_builtin_only(path)
        return path

    def tool_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        packages = ("litert-torch", "ai-edge-quantizer", "ai-edge-litert")
        return {**{p: version(p) for p in packages}, "torch": torch.__version__}


BACKEND = LiteRTBackend("tflite")
