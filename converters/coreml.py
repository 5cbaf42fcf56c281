"""Core ML target: ML Program packages (``.mlpackage``, iOS 17+) converted by coremltools 9.

Stages: ``with_shifted_padding`` (no grid-sized pad constants) -> ``export_program``
(``torch.export`` + decompositions) -> ``to_mlmodel`` (float32, or float16 compute with the
fp16-unsafe ops kept in float32) -> compression per recipe -> ``save``.
Inputs and outputs carry the I/O contract's names and stay float32 (iOS 17 programs would
otherwise take and return fp16 arrays), so every app feeds the same tensors on every recipe.

Precisions (all but ``fp32`` compute in fp16, as the GPU and the Neural Engine do):

* ``fp32``: float32 weights and compute (CPU / GPU only: the Neural Engine has no fp32).
* ``fp16``: fp16 weights and compute. ``fp16_unsafe_ops`` runs the float32 program on calibration
  photos and prompts (MIL interpreter) and keeps in float32 exactly the ops that produce or consume
  activations within ``FP16_HEADROOM`` of fp16's range; the list goes into the conversion log.
* ``w8``: int8 per-channel symmetric weights (``constexpr_affine_dequantize``) on the fp16 program.
* ``palettize4`` / ``palettize6``: 16 / 64-entry k-means palettes per weight tensor
  (``constexpr_lut_to_dense``; per-tensor is the form iOS 17 supports).
* ``w8a8``: int8 activations (``quantize`` / ``dequantize`` pairs around convs, linears, matmuls
  and adds) plus int8 weights. coremltools calibrates activations by running the model through
  Core ML, which only works on macOS; here the fp16 program runs in the MIL interpreter on the
  calibration data and the running min / max of every activation feed coremltools' own insertion
  passes. (coremltools 9's calibration helper also keeps only the last sample's range, a bug
  this path avoids.)

Weights smaller than ``WEIGHT_THRESHOLD`` elements stay fp16 in the compressed recipes.
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
from tinysam_mobile.recipes import Recipe
from tinysam_mobile.runtimes.coreml_runtime import CoreMLRuntime

from . import Programs
from .fp16 import FP16_HEADROOM, RangeRecorder, Ranges, fp16_unsafe
from .jobs import ProgramJob, program_jobs

PRECISIONS = frozenset({"fp32", "fp16", "w8", "palettize4", "palettize6", "w8a8"})
PALETTE_BITS = {"palettize4": 4, "palettize6": 6}
WEIGHT_THRESHOLD = 2048


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


def activation_ranges(program, samples: Iterable[dict[str, np.ndarray]]) -> Ranges:
    """Running min / max of every floating op output of a MIL ``program`` over ``samples``."""
    interpreter = MilInterpreter(program)
    recorder = RangeRecorder()
    for feed in samples:
        interpreter.run(feed, recorder)
    return recorder.ranges


def fp16_unsafe_ops(program, ranges: Ranges, headroom: float = FP16_HEADROOM) -> frozenset[str]:
    """Ops of a float32 MIL ``program`` (named by their output variable) that must stay float32
    (``converters.fp16``)."""

    def inputs(op) -> set[str]:
        return {
            v.name
            for value in op.inputs.values()
            for v in (value if isinstance(value, list | tuple) else [value])
        }

    operations = program.functions["main"].operations
    return fp16_unsafe(((op.outputs[0].name, inputs(op)) for op in operations), ranges, headroom)


def quantize_activations(mlmodel, ranges: Ranges):
    """Insert int8 quantize / dequantize pairs with the calibrated ``ranges`` (coremltools' passes)."""
    import coremltools as ct
    import coremltools.optimize as cto
    from coremltools.converters.mil.mil.passes.graph_pass import PassOption
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY
    from coremltools.models import utils as model_utils

    config = cto.coreml.OptimizationConfig(
        global_config=cto.coreml.OpLinearQuantizerConfig(mode="linear_symmetric")
    )
    stats = {name: {"rmin": low, "rmax": high} for name, (low, high) in ranges.items()}
    passes = []
    for name in ("insert_prefix_quantize_dequantize_pair", "insert_suffix_quantize_dequantize_pair"):
        graph_pass = PASS_REGISTRY[f"compression::{name}"]
        graph_pass.set_options([PassOption("config", config), PassOption("activation_stats", stats)])
        passes.append(graph_pass)
    passes.append(PASS_REGISTRY["common::dequantize_quantize_pair_elimination"])
    return model_utils._apply_graph_pass(mlmodel, passes, spec_version=ct.target.iOS17, skip_model_load=True)


def compress_weights(mlmodel, precision: str):
    """int8 weights (``w8``, ``w8a8``) or a k-means palette (``palettize4`` / ``palettize6``)."""
    import coremltools.optimize as cto

    if precision in PALETTE_BITS:
        op_config = cto.coreml.OpPalettizerConfig(
            mode="kmeans", nbits=PALETTE_BITS[precision], weight_threshold=WEIGHT_THRESHOLD
        )
        return cto.coreml.palettize_weights(mlmodel, cto.coreml.OptimizationConfig(global_config=op_config))
    op_config = cto.coreml.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=WEIGHT_THRESHOLD
    )
    return cto.coreml.linear_quantize_weights(mlmodel, cto.coreml.OptimizationConfig(global_config=op_config))


def save(mlmodel, path: Path) -> Path:
    mlmodel.save(str(path))
    return path


def convert_program(job: ProgramJob, path: Path, scratch: Path, progress: Callable[[str], None]) -> Path:
    """One program (encoder or decoder) to ``path`` per its precision; its samples calibrate."""
    program = export_program(job.module, job.example)
    float32 = to_mlmodel(program, job.inputs, job.outputs, job.example, fp16=False)
    if job.precision == "fp32":
        return save(float32, path)
    progress(f"{job.name}: find fp16-unsafe ops (float32 program on calibration data)")
    float32_program = load_program(save(float32, scratch / "fp32.mlpackage"))
    unsafe = fp16_unsafe_ops(float32_program, activation_ranges(float32_program, job.samples()))
    progress(f"{job.name}: fp16 compute; kept in float32: {sorted(unsafe) or 'none'}")
    model = to_mlmodel(program, job.inputs, job.outputs, job.example, fp16=True, keep_fp32=unsafe)
    if job.precision == "w8a8":
        progress(f"{job.name}: calibrate int8 activations (fp16 program in the MIL interpreter)")
        ranges = activation_ranges(load_program(save(model, scratch / "fp16.mlpackage")), job.samples())
        model = quantize_activations(model, ranges)
    if job.precision != "fp16":
        progress(f"{job.name}: compress weights ({job.precision})")
        model = compress_weights(model, job.precision)
    return save(model, path)


def convert(
    model: Sam,
    recipe: Recipe,
    work_dir: Path,
    *,
    max_points: int,
    calibration_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Programs:
    """Convert the encoder and the decoder of ``model`` per ``recipe`` into ``work_dir``."""
    paths = {}
    for job in program_jobs(model, recipe, max_points, calibration_dir):
        progress(f"{job.name}: export and convert with coremltools ({job.precision})")
        with tempfile.TemporaryDirectory(prefix="tinysam-coreml-") as scratch:
            path = work_dir / f"{job.name}.mlpackage"
            paths[job.name] = convert_program(job, path, Path(scratch), progress)
    return Programs(paths["encoder"], paths["decoder"])


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


def open_runtime(programs: Programs, max_points: int, num_threads: int | None = None) -> CoreMLRuntime:
    """The runtime for converted packages (Core ML on macOS, the MIL interpreter elsewhere)."""
    return CoreMLRuntime(programs.encoder, programs.decoder, max_points)


def tool_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"coremltools": version("coremltools"), "torch": torch.__version__}
