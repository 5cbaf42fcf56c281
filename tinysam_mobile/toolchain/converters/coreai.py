"""Core AI target: ``.aimodel`` assets (iOS / macOS 27) converted by coreai-torch from ``torch.export``.

Stages: ``prepare`` (``with_shifted_padding``) -> ``export_program``
(``torch.export`` + coreai-torch's decomposition table) -> ``to_fp16`` (fp16 recipes) ->
``to_aiprogram`` (``TorchConverter``) -> ``compress_weights`` (compressed recipes) -> ``save``.
Inputs and outputs carry the I/O contract's names and stay float32 on every recipe, so every app
feeds the same tensors.

Schemes (all but ``fp32`` compute in fp16) and their ``[program.coreai_opt]`` recipe options:

* ``fp32``: float32 weights and compute (no options).
* ``fp16``: fp16 weights and compute by coreai-opt's cast pass (``cast_fp32_to_fp16``), whose
  ignored-op predicate keeps float32 exactly the nodes ``fp16_unsafe_nodes`` finds: the float32
  program runs on calibration photos and prompts and every node that produces or reads a value
  within ``fp16_headroom`` (option, default 16) of fp16's range stays float32 (the conversion log
  lists them). Every fp16-computing scheme does this.
* ``w8_fp16``: the fp16 program with int8 per-channel symmetric weights (``weights`` option:
  ``weight_threshold``, coreai-opt's ``quantize_weights``).
* ``palette4_fp16`` / ``palette6_fp16``: the fp16 program with k-means weight palettes per group
  of output channels (``weights`` option: ``n_bits``, ``group_size``, ``weight_threshold``;
  coreai-opt's ``palettize_weights``).

Weight compression is coreai-opt's pass over the converted Core AI program (data-free, like
coremltools' ``optimize.coreml``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from tinysam_mobile.modeling import Sam
from tinysam_mobile.runtimes.coreai_runtime import tensor_type
from tinysam_mobile.toolchain.export import with_shifted_padding

from .base import Backend, ProgramJob
from .fp16 import FP16_HEADROOM, RangeRecorder, Ranges, fp16_unsafe

with warnings.catch_warnings():
    # coreai-torch warns about any torch newer than 2.13.0, a local build suffix (+cpu) included
    warnings.filterwarnings("ignore", message="coreai-torch has only been validated")
    import coreai_torch

# scheme -> the keys its `weights` option takes (None: no `weights` option)
WEIGHT_OPTIONS = {
    "fp32": None,
    "fp16": None,
    "w8_fp16": {"weight_threshold"},
    "palette4_fp16": {"n_bits", "group_size", "weight_threshold"},
    "palette6_fp16": {"n_bits", "group_size", "weight_threshold"},
}
FUNCTION = "main"


def export_program(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> ExportedProgram:
    """``torch.export`` with static shapes, decomposed by coreai-torch's table."""
    with torch.no_grad():
        return torch.export.export(module.eval(), example).run_decompositions(coreai_torch.get_decomp_table())


class _Observed(torch.fx.Interpreter):
    """Runs an exported program's graph and hands every call's tensor outputs to ``observe``."""

    def __init__(self, program: ExportedProgram, observe: Callable[[str, torch.Tensor], None]) -> None:
        super().__init__(program.graph_module)
        self._observe = observe

    def run_node(self, node: torch.fx.Node) -> Any:
        out = super().run_node(node)
        if node.op == "call_function":
            for value in out if isinstance(out, tuple | list) else (out,):
                if isinstance(value, torch.Tensor):
                    self._observe(node.name, value)
        return out


def _graph_args(program: ExportedProgram, inputs: tuple[str, ...], feed: dict[str, np.ndarray]) -> list:
    """The lifted graph's arguments: weights and constants, and the user inputs from ``feed``."""
    names = iter(inputs)
    args = []
    for spec in program.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            args.append(torch.from_numpy(np.ascontiguousarray(feed[next(names)])))
        elif spec.target in program.state_dict:
            args.append(program.state_dict[spec.target])
        else:
            args.append(program.constants[spec.target])
    return args


def activation_ranges(
    program: ExportedProgram, inputs: tuple[str, ...], samples: Iterable[dict[str, np.ndarray]]
) -> Ranges:
    """Running min / max of every node output of a float32 exported ``program`` over ``samples``."""
    recorder = RangeRecorder()
    interpreter = _Observed(program, recorder)
    with torch.no_grad():
        for feed in samples:
            interpreter.run(*_graph_args(program, inputs, feed))
    return recorder.ranges


def fp16_unsafe_nodes(
    program: ExportedProgram, ranges: Ranges, headroom: float = FP16_HEADROOM
) -> frozenset[str]:
    """Nodes of ``program`` that must stay float32 (``converters.fp16``), by node name."""
    calls = (node for node in program.graph.nodes if node.op == "call_function")
    return fp16_unsafe(
        ((node.name, [i.name for i in node.all_input_nodes]) for node in calls), ranges, headroom
    )


def float32_io(program: ExportedProgram) -> ExportedProgram:
    """Casts at the boundary, so a program computing in fp16 takes and returns float32 tensors."""
    graph = program.graph
    user_inputs = set(program.graph_signature.user_inputs)
    cast = torch.ops.aten._to_copy.default

    def cast_node(value: torch.fx.Node, dtype: torch.dtype) -> torch.fx.Node:
        node = graph.call_function(cast, (value,), {"dtype": dtype})
        node.meta["val"] = value.meta["val"].to(dtype)
        return node

    for node in list(graph.nodes):
        if node.op == "placeholder" and node.name in user_inputs and node.meta["val"].dtype == torch.float16:
            node.meta["val"] = node.meta["val"].to(torch.float32)
            users = list(node.users)
            with graph.inserting_after(node):
                half = cast_node(node, torch.float16)
            for user in users:
                user.replace_input_with(node, half)
    output = next(node for node in graph.nodes if node.op == "output")
    with graph.inserting_before(output):
        results = tuple(
            cast_node(value, torch.float32) if value.meta["val"].dtype == torch.float16 else value
            for value in output.args[0]
        )
    output.args = (results,)
    graph.lint()
    program.graph_module.recompile()
    return program


def to_fp16(program: ExportedProgram, keep_fp32: frozenset[str] = frozenset()) -> ExportedProgram:
    """fp16 weights and compute except the nodes named in ``keep_fp32``; float32 I/O (in place)."""
    from coreai_opt.casting import cast_fp32_to_fp16

    cast_fp32_to_fp16(program, ignored_ops=lambda node: node.name in keep_fp32)
    return float32_io(program)


def to_aiprogram(program: ExportedProgram, inputs: tuple[str, ...], outputs: tuple[str, ...]):
    """The Core AI program of ``program`` with one function, ``main``, and the contract's names."""
    converter = coreai_torch.TorchConverter(mode=coreai_torch.TorchConverter.Mode.RELEASE)
    converter.add_exported_program(
        exported_program=program,
        input_names=list(inputs),
        output_names=list(outputs),
        entrypoint_name=FUNCTION,
    )
    return converter.to_coreai()


def compress_weights(aiprogram, scheme: str, weights: dict[str, int]):
    """int8 per-channel weights (``w8_fp16``) or grouped k-means palettes (``palette*_fp16``)."""
    from coreai_opt.coreai_utils import CompressionGranularity, DType, palettize_weights, quantize_weights

    if scheme == "w8_fp16":
        return quantize_weights(
            aiprogram,
            DType.INT8,
            granularity=CompressionGranularity.PER_CHANNEL,
            weight_num_threshold=weights["weight_threshold"],
        )
    return palettize_weights(
        aiprogram,
        None,
        n_bits=weights["n_bits"],
        granularity=CompressionGranularity.PER_GROUPED_CHANNEL,
        group_size=weights["group_size"],
        weight_num_threshold=weights["weight_threshold"],
        num_kmeans_workers=1,  # its forked pool hangs once torch has started threads
    )


def save(aiprogram, path: Path, job: ProgramJob) -> Path:
    """Write ``aiprogram`` as an ``.aimodel`` asset whose metadata names the program and precision."""
    from coreai.runtime import AIModelAssetMetadata

    metadata = AIModelAssetMetadata()
    metadata.author = "tinysam-mobile"
    metadata.license = "Apache-2.0"
    metadata.model_description = f"TinySAM {job.name} ({job.scheme}); I/O contract in manifest.json"
    metadata.set_custom("tinysam.program", job.name)
    metadata.set_custom("tinysam.scheme", job.scheme)
    aiprogram.save_asset(path, metadata)
    return path


def asset_inventory(asset: Path) -> dict[str, Any]:
    """What a saved asset holds: its function, float32 I/O, scalar storage types (element
    counts), compute types, op counts, its metadata stamps and its size in bytes."""
    from coreai.authoring import AIModelAsset

    loaded = AIModelAsset.load(asset)
    summary = loaded.summary(include_statistics=True)
    if summary is None:
        raise ValueError(f"{asset} holds no Core AI program")
    return {
        "functions": list(summary.function_names),
        "inputs": {n: tensor_type(t) for n, t in summary.function_inputs(FUNCTION)},
        "outputs": {n: tensor_type(t) for n, t in summary.function_outputs(FUNCTION)},
        "storage_types": dict(summary.storage_types),
        "compute_types": sorted(summary.compute_types),
        "ops": Counter(dict(summary.operation_distribution)),
        "metadata": dict(loaded.metadata.creator_defined_metadata),
        "bytes": sum(f.stat().st_size for f in Path(asset).rglob("*") if f.is_file()),
    }


class CoreAIBackend(Backend):
    """Core AI assets by coreai-torch, compressed by coreai-opt (see the module docstring)."""

    schemes = frozenset({"fp32", "fp16", "w8_fp16", "palette4_fp16", "palette6_fp16"})
    options_table = "coreai_opt"
    decoder_batch = 1  # one prompt per decoder call (static shapes)

    def check_options(self, scheme: str, program: str, options: dict[str, Any]) -> dict[str, Any]:
        """The recipe's ``coreai_opt`` options of ``scheme`` (see the module docstring)."""
        keys = WEIGHT_OPTIONS[scheme]
        allowed = ({"weights"} if keys else set()) | ({"fp16_headroom"} if scheme != "fp32" else set())
        if not set(options) <= allowed or (keys and "weights" not in options):
            required = "weights required" if keys else "no weights"
            raise ValueError(f"scheme {scheme!r} takes {sorted(allowed)} ({required}), got {sorted(options)}")
        weights = options.get("weights", {})
        if keys and (not isinstance(weights, dict) or set(weights) != keys):
            raise ValueError(f"weights: expected exactly the keys {sorted(keys)}, got {weights!r}")
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in weights.values()):
            raise ValueError(f"weights: expected positive integers, got {weights!r}")
        if scheme.startswith("palette") and weights["n_bits"] != int(scheme[7]):
            raise ValueError(f"weights: n_bits {weights['n_bits']} does not match the scheme {scheme!r}")
        return options

    def prepare(self, model: Sam) -> Sam:
        """The converter-friendly copy of ``model`` (window padding by shifting)."""
        return with_shifted_padding(model)

    def needs_calibration(self, scheme: str) -> bool:
        """Every scheme but fp32 computes in fp16, whose safety check runs on calibration data."""
        return scheme != "fp32"

    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        """One program (encoder or decoder) to ``path`` per its scheme; its samples calibrate."""
        program = export_program(job.module, job.example)
        if job.scheme != "fp32":
            progress(f"{job.name}: find fp16-unsafe ops (float32 program on calibration data)")
            ranges = activation_ranges(program, job.inputs, job.named_calibration())
            unsafe = fp16_unsafe_nodes(program, ranges, job.options.get("fp16_headroom", FP16_HEADROOM))
            progress(f"{job.name}: fp16 compute; kept in float32: {sorted(unsafe) or 'none'}")
            program = to_fp16(program, unsafe)
        aiprogram = to_aiprogram(program, job.inputs, job.outputs)
        if "weights" in job.options:
            progress(f"{job.name}: compress weights ({job.scheme})")
            aiprogram = compress_weights(aiprogram, job.scheme, job.options["weights"])
        return save(aiprogram, path, job)

    def tool_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {name: version(name) for name in ("coreai-torch", "coreai-core", "coreai-opt")} | {
            "torch": torch.__version__
        }


BACKEND = CoreAIBackend("coreai")
