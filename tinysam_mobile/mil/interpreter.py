"""Execute a Core ML ML Program (MIL) with torch: Core ML's semantics where Core ML cannot run.

``load_program`` reads the MIL program a saved ``.mlpackage`` holds (weights included), so what
runs is what ships. ``MilInterpreter`` prepares the program once (constants to tensors,
compile-time decompression of ``constexpr_*`` weights) and then runs the op list in order. Every
op output is rounded to the dtype the program declares, so fp16 programs compute with fp16
intermediates and int8 activation quantization is exact. An op type outside ``supported_ops()``
is an error at load time, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .ops import CONSTEXPR_OPS, OPS

WEIGHTS_DIR = Path("Data") / "com.apple.CoreML" / "weights"
TORCH_DTYPES = {
    "fp16": torch.float16,
    "fp32": torch.float32,
    "fp64": torch.float32,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "uint32": torch.int64,
    "int64": torch.int64,
    "bool": torch.bool,
}
Observer = Callable[[str, torch.Tensor], None]


class UnsupportedOpError(NotImplementedError):
    """The program uses an op type (or a form of one) the interpreter does not implement."""


def supported_ops() -> list[str]:
    """Every MIL op type the interpreter executes (besides ``const``)."""
    return sorted({*OPS, *CONSTEXPR_OPS})


def load_program(package: Path):
    """The MIL program (``coremltools`` ``Program``) stored in a saved ``.mlpackage``."""
    import coremltools as ct
    from coremltools.converters.mil.frontend.milproto.load import load

    package = Path(package)
    if not (package / "Manifest.json").is_file():
        raise FileNotFoundError(f"{package} is not an .mlpackage (Manifest.json is missing)")
    spec = ct.utils.load_spec(str(package))
    if spec.WhichOneof("Type") != "mlProgram":
        raise ValueError(f"{package} is not an ML Program (model type {spec.WhichOneof('Type')})")
    return load(spec, spec.specificationVersion, str(package / WEIGHTS_DIR))


def dtype_name(var) -> str:
    """MIL dtype name of a variable's elements (``fp16``, ``int8``, ...)."""
    from coremltools.converters.mil.mil import types

    return types.builtin_to_string(var.dtype)


def _constant(value: Any) -> Any:
    """A MIL constant value as an op argument: arrays as tensors, scalars as is, strings as str."""
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.ndim == 0 and array.dtype.kind in "biuf":
        return array.item()
    if array.dtype == np.uint32:
        array = array.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(array))


@dataclass(frozen=True)
class _Step:
    """One runtime op: its implementation, its inputs (var names or constants), its outputs."""

    name: str
    op_type: str
    fn: Callable[..., Any]
    args: dict[str, Any]  # input name -> ("var", name) | ("vars", names) | ("const", value)
    outputs: tuple[tuple[str, torch.dtype], ...]


class MilInterpreter:
    """Runs the ``main`` function of a MIL program; see the module docstring."""

    def __init__(self, program) -> None:
        function = program.functions["main"]
        unsupported = sorted({op.op_type for op in function.operations} - {"const", *OPS, *CONSTEXPR_OPS})
        if unsupported:
            raise UnsupportedOpError(
                f"the MIL interpreter does not implement {unsupported}; supported: {supported_ops()}"
            )
        self.input_names = tuple(function.inputs)
        self.input_dtypes = {n: TORCH_DTYPES[dtype_name(v)] for n, v in function.inputs.items()}
        self.output_names = tuple(v.name for v in function.outputs)
        self.op_types = tuple(op.op_type for op in function.operations)
        self._constants: dict[str, Any] = {}
        self._steps: list[_Step] = []
        for op in function.operations:
            if any(op.blocks):
                raise UnsupportedOpError(f"{op.op_type} {op.name}: control flow is not supported")
            if op.op_type in CONSTEXPR_OPS:
                values = {k: np.asarray(v.val) for k, v in op.inputs.items()}
                self._constants[op.outputs[0].name] = _constant(CONSTEXPR_OPS[op.op_type](**values))
            elif op.op_type == "const" or op.outputs[0].val is not None:
                for out in op.outputs:
                    self._constants[out.name] = _constant(out.val)
            else:
                self._steps.append(self._step(op))

    def _step(self, op) -> _Step:
        args: dict[str, Any] = {}
        for key, var in op.inputs.items():
            if isinstance(var, list | tuple):
                args[key] = ("vars", tuple(v.name for v in var))
            elif var.name in self._constants:
                args[key] = ("var", var.name)
            elif var.val is not None:
                args[key] = ("const", _constant(var.val))
            else:
                args[key] = ("var", var.name)
        outputs = tuple((out.name, TORCH_DTYPES[dtype_name(out)]) for out in op.outputs)
        return _Step(op.name, op.op_type, OPS[op.op_type], args, outputs)

    def run(self, inputs: dict[str, np.ndarray], observe: Observer | None = None) -> dict[str, np.ndarray]:
        """Execute the program; ``observe(var_name, tensor)`` sees every op output."""
        missing = sorted(set(self.input_names) - set(inputs))
        if missing:
            raise ValueError(f"missing inputs {missing}; the program takes {list(self.input_names)}")
        env: dict[str, Any] = dict(self._constants)
        for name in self.input_names:
            env[name] = torch.as_tensor(np.asarray(inputs[name])).to(self.input_dtypes[name])

        def value(arg: tuple[str, Any]) -> Any:
            kind, ref = arg
            if kind == "const":
                return ref
            if kind == "vars":
                return [_compute_form(env[n]) for n in ref]
            return _compute_form(env[ref])

        with torch.no_grad():
            for step in self._steps:
                try:
                    result = step.fn(**{k: value(a) for k, a in step.args.items()})
                except (RuntimeError, TypeError, ValueError, NotImplementedError) as exc:
                    raise RuntimeError(f"MIL op {step.op_type} {step.name!r} failed: {exc}") from exc
                results = result if isinstance(result, tuple) else (result,)
                for (name, dtype), tensor in zip(step.outputs, results, strict=True):
                    env[name] = tensor.to(dtype)
                    if observe is not None:
                        observe(name, env[name])
        return {name: env[name].float().numpy() for name in self.output_names}


def _compute_form(value: Any) -> Any:
    """Runtime tensors are computed in float32 (fp16 values upcast exactly)."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.float16:
        return value.float()
    return value
