"""Core ML target: ML Program packages (``.mlpackage``, iOS 17+) converted by coremltools 9.

Stages: ``with_shifted_padding`` (no grid-sized pad constants) -> ``export_program``
(``torch.export`` + decompositions) -> ``to_mlmodel`` (float32, or float16 compute with the
fp16-unsafe ops kept in float32) -> compression per recipe -> ``save``.
Inputs and outputs carry the I/O contract's names and stay float32 (iOS 17 programs would
otherwise take and return fp16 arrays), so every app feeds the same tensors on every recipe.

Schemes (all but ``fp32`` compute in fp16, as the GPU and the Neural Engine do) and their
``[program.coremltools]`` recipe options:

* ``fp32``: float32 weights and compute (CPU / GPU only: the Neural Engine has no fp32).
* ``fp16``: fp16 weights and compute. ``fp16_unsafe_ops`` runs the float32 program on calibration
  photos and prompts (MIL interpreter) and keeps in float32 exactly the ops that produce or consume
  activations within ``fp16_headroom`` (option, default 16) of fp16's range; the list goes into
  the conversion log. Every fp16-computing scheme does this.
* ``w8_fp16`` / ``palette4_fp16`` / ``palette6_fp16``: the fp16 program with its weights compressed
  per the ``weights`` option, a coremltools ``OptimizationConfig`` as a dict
  (``OptimizationConfig.from_dict``: ``OpLinearQuantizerConfig`` for int8, ``OpPalettizerConfig``
  for palettes, per op type / op name overrides allowed).
* ``w8a8``: int8 activations (``quantize`` / ``dequantize`` pairs, the ``activations`` option's
  ``OptimizationConfig``) plus ``weights``. coremltools calibrates activations by running the model
  through Core ML, which only works on macOS; here the fp16 program runs in the MIL interpreter on
  the calibration data and the running min / max of every activation feed coremltools' own
  insertion passes. (coremltools 9's calibration helper also keeps only the last sample's range,
  a bug this path avoids.)
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tinysam_mobile.mil import MilInterpreter, load_program
from tinysam_mobile.mil.interpreter import dtype_name
from tinysam_mobile.modeling import Sam
from tinysam_mobile.toolchain.export import with_shifted_padding

from .base import Backend, ProgramJob
from .fp16 import FP16_HEADROOM, RangeRecorder, Ranges, fp16_unsafe

# scheme -> the options it requires (fp16_headroom is allowed for every fp16-computing scheme)
REQUIRED_OPTIONS = {
    "fp32": (),
    "fp16": (),
    "w8_fp16": ("weights",),
    "palette4_fp16": ("weights",),
    "palette6_fp16": ("weights",),
    "w8a8": ("weights", "activations"),
}


def export_program(module: nn.Module, example: tuple[torch.Tensor, ...]) -> torch.export.ExportedProgram:
    """``torch.export`` with static shapes, decomposed to core ATen ops."""
    with torch.no_grad():
        return torch.export.export(module.eval(), example).run_decompositions({})


def to_mlmodel(
    program: torch.export.ExportedProgram,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    example: tuple[torch.Tensor, ...],
    fp16: bool,
    keep_fp32: frozenset[str] = frozenset(),
):
    """An ML Program for iOS 17 with float32 I/O named per the contract.

    ``fp16``: fp16 compute except for the ops whose output variable is named in ``keep_fp32``.
    """
    import coremltools as ct

    if fp16:
        precision = ct.transform.FP16ComputePrecision(
            op_selector=lambda op: op.outputs[0].name not in keep_fp32
        )
    else:
        precision = ct.precision.FLOAT32
    return ct.convert(
        program,
        inputs=[
            ct.TensorType(name=n, shape=x.shape, dtype=np.float32)
            for n, x in zip(inputs, example, strict=True)
        ],
        outputs=[ct.TensorType(name=n, dtype=np.float32) for n in outputs],
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=precision,
        convert_to="mlprogram",
        skip_model_load=True,
    )


# ops whose output holds exactly their input "x"'s values (rearranged): their range is x's
SAME_VALUES = frozenset({"reshape", "transpose", "expand_dims", "squeeze", "identity"})


def activation_ranges(program, samples: Iterable[dict[str, np.ndarray]]) -> Ranges:
    """Running min / max of every floating op output of a MIL ``program`` over ``samples``
    (outputs of :data:`SAME_VALUES` ops take their input's range without a reduction)."""
    operations = program.functions["main"].operations
    computed = {
        op.outputs[0].name
        for op in operations
        if op.op_type != "const" and not op.op_type.startswith("constexpr_") and op.outputs[0].val is None
    }
    aliases = {
        op.outputs[0].name: op.inputs["x"].name
        for op in operations
        if op.op_type in SAME_VALUES
        and op.inputs["x"].name in computed
        and op.outputs[0].dtype == op.inputs["x"].dtype
    }
    interpreter, recorder = MilInterpreter(program), RangeRecorder(aliases)
    for feed in samples:
        interpreter.run(feed, recorder)
    return recorder.resolved()


def fp16_unsafe_ops(program, ranges: Ranges, headroom: float = FP16_HEADROOM) -> frozenset[str]:
    """Ops of a float32 MIL ``program`` that must stay float32 (:mod:`.fp16`), named by their
    output variable."""

    def names(op) -> list[str]:
        return [
            v.name
            for value in op.inputs.values()
            for v in (value if isinstance(value, list | tuple) else [value])
        ]

    ops = ((op.outputs[0].name, names(op)) for op in program.functions["main"].operations)
    return fp16_unsafe(ops, ranges, headroom)


def optimization_config(options: dict[str, Any]):
    """A coremltools ``OptimizationConfig`` from its dict form (validated by coremltools)."""
    import copy

    import coremltools.optimize as cto

    return cto.coreml.OptimizationConfig.from_dict(copy.deepcopy(options))


def quantize_activations(mlmodel, ranges: Ranges, options: dict[str, Any]):
    """Insert int8 quantize / dequantize pairs with the calibrated ``ranges`` (coremltools' passes)."""
    import coremltools as ct
    from coremltools.converters.mil.mil.passes.graph_pass import PassOption
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY
    from coremltools.models import utils as model_utils

    config = optimization_config(options)
    stats = {name: {"rmin": low, "rmax": high} for name, (low, high) in ranges.items()}
    passes = []
    for name in ("insert_prefix_quantize_dequantize_pair", "insert_suffix_quantize_dequantize_pair"):
        graph_pass = PASS_REGISTRY[f"compression::{name}"]
        graph_pass.set_options([PassOption("config", config), PassOption("activation_stats", stats)])
        passes.append(graph_pass)
    passes.append(PASS_REGISTRY["common::dequantize_quantize_pair_elimination"])
    return model_utils._apply_graph_pass(mlmodel, passes, spec_version=ct.target.iOS17, skip_model_load=True)


def compress_weights(mlmodel, options: dict[str, Any]):
    """Weights compressed per a coremltools ``OptimizationConfig`` dict: palettes for
    ``OpPalettizerConfig``, linear quantization for ``OpLinearQuantizerConfig``."""
    import coremltools.optimize as cto

    config = optimization_config(options)
    if options.get("config_type") == "OpPalettizerConfig":
        return cto.coreml.palettize_weights(mlmodel, config)
    return cto.coreml.linear_quantize_weights(mlmodel, config)


def save(mlmodel, path: Path) -> Path:
    mlmodel.save(str(path))
    return path


def package_inventory(package: Path) -> dict[str, Any]:
    """What a saved package holds: spec version, float32 I/O, op counts, the dtypes ops compute in,
    and the compression actually applied (palette sizes, quantized weight dtypes), plus its size."""
    import coremltools as ct

    spec = ct.utils.load_spec(str(package))
    features = ct.proto.FeatureTypes_pb2.ArrayFeatureType

    def io(described) -> dict[str, tuple[tuple[int, ...], str]]:
        return {
            f.name: (
                tuple(f.type.multiArrayType.shape),
                features.ArrayDataType.Name(f.type.multiArrayType.dataType),
            )
            for f in described
        }

    operations = load_program(package).functions["main"].operations
    compute = [op for op in operations if op.op_type != "const" and not op.op_type.startswith("constexpr")]
    return {
        "specification_version": spec.specificationVersion,
        "inputs": io(spec.description.input),
        "outputs": io(spec.description.output),
        "ops": Counter(op.op_type for op in operations),
        "compute_dtypes": Counter(dtype_name(op.outputs[0]) for op in compute if op.op_type != "cast"),
        "palette_sizes": sorted(
            {op.lut.val.size for op in operations if op.op_type == "constexpr_lut_to_dense"}
        ),
        "quantized_weight_dtypes": sorted(
            {
                dtype_name(op.quantized_data)
                for op in operations
                if op.op_type == "constexpr_affine_dequantize"
            }
        ),
        "bytes": sum(f.stat().st_size for f in Path(package).rglob("*") if f.is_file()),
    }


class CoreMLBackend(Backend):
    """Core ML ML Programs by coremltools (see the module docstring)."""

    schemes = frozenset({"fp32", "fp16", "w8_fp16", "palette4_fp16", "palette6_fp16", "w8a8"})
    options_table = "coremltools"
    decoder_batch = 1  # one prompt per decoder call (Core ML flexible shapes: not measured here)

    def check_options(self, scheme: str, program: str, options: dict[str, Any]) -> dict[str, Any]:
        """The recipe's ``coremltools`` options of ``scheme`` (see the module docstring); the
        ``OptimizationConfig`` dicts are parsed by coremltools itself."""
        required = set(REQUIRED_OPTIONS[scheme])
        allowed = required | ({"fp16_headroom"} if scheme != "fp32" else set())
        if not required <= set(options) <= allowed:
            optional = sorted(allowed - required)
            raise ValueError(
                f"scheme {scheme!r} takes {sorted(required)} (optional: {optional}), got {sorted(options)}"
            )
        headroom = options.get("fp16_headroom", FP16_HEADROOM)
        if not isinstance(headroom, int | float) or isinstance(headroom, bool) or headroom < 1:
            raise ValueError(f"fp16_headroom: expected a number >= 1, got {headroom!r}")
        for key in ("weights", "activations"):
            if key in options:
                try:
                    optimization_config(options[key])
                except Exception as exc:  # coremltools raises cattrs / type errors of several kinds
                    raise ValueError(f"{key}: not a coremltools OptimizationConfig dict: {exc}") from None
        return options

    def prepare(self, model: Sam) -> Sam:
        """The converter-friendly copy of ``model`` (window padding by shifting)."""
        return with_shifted_padding(model)

    def needs_calibration(self, scheme: str) -> bool:
        """Every scheme but fp32 computes in fp16, whose safety check runs on calibration data."""
        return scheme != "fp32"

    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        """One program (encoder or decoder) to the ``.mlpackage`` at ``path`` per its scheme."""
        program = export_program(job.module, job.example)
        float32 = to_mlmodel(program, job.inputs, job.outputs, job.example, fp16=False)
        if job.scheme == "fp32":
            return save(float32, path)
        with tempfile.TemporaryDirectory(prefix="tinysam-coreml-") as tmp:
            scratch = Path(tmp)
            progress(f"{job.name}: find fp16-unsafe ops (float32 program on calibration data)")
            float32_program = load_program(save(float32, scratch / "fp32.mlpackage"))
            ranges = activation_ranges(float32_program, job.named_calibration())
            unsafe = fp16_unsafe_ops(float32_program, ranges, job.options.get("fp16_headroom", FP16_HEADROOM))
            progress(f"{job.name}: fp16 compute; kept in float32: {sorted(unsafe) or 'none'}")
            model = to_mlmodel(program, job.inputs, job.outputs, job.example, fp16=True, keep_fp32=unsafe)
            if "activations" in job.options:
                progress(f"{job.name}: calibrate int8 activations (fp16 program in the MIL interpreter)")
                fp16_program = load_program(save(model, scratch / "fp16.mlpackage"))
                ranges = activation_ranges(fp16_program, job.named_calibration())
                model = quantize_activations(model, ranges, job.options["activations"])
            if "weights" in job.options:
                progress(f"{job.name}: compress weights ({job.scheme})")
                model = compress_weights(model, job.options["weights"])
            return save(model, path)

    def tool_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"coremltools": version("coremltools"), "torch": torch.__version__}


BACKEND = CoreMLBackend("coreml")
