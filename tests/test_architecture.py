"""The two halves (docs/architecture.md): the import graph of the package has no circle, the
inference half never imports the toolchain or the commands, and using it (a bundle of each target
opened and asked) imports no converter and no converter-only package."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinysam_mobile.targets import TARGETS

PACKAGE = Path(__file__).parents[1] / "tinysam_mobile"
TOOLCHAIN, COMMANDS = "tinysam_mobile.toolchain", "tinysam_mobile.cli"
# Packages only converters use. A runtime's own package is allowed: executorch (its runtime
# imports executorch.exir, and coremltools imports executorch when it is installed), ai_edge_litert,
# coreai (coreai-core), coremltools (the MIL reader, MLModel).
CONVERTER_PACKAGES = ("coreai_torch", "coreai_opt", "litert_torch", "ai_edge_quantizer")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file, lazily or not)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base)
                # ``from X import m`` of a submodule m is an arrow to X.m, not to X
                candidates = [
                    f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names
                ]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            edges |= {c for c in candidates if c in modules and c != name}
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _package_face(name: str) -> bool:
    """Modules that sit above both halves: the lazy front door and the ``python -m`` shims."""
    return name == "tinysam_mobile" or name in {
        f"tinysam_mobile.{c}" for c in ("convert", "segment", "everything", "evaluate", "train")
    }


def test_the_import_graph_has_no_circle():
    assert _cycles(import_graph()) == []


def test_the_inference_half_never_imports_the_toolchain_or_the_commands():
    upward = [
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        if not name.startswith((TOOLCHAIN, COMMANDS)) and not _package_face(name)
        for target in targets
        if target.startswith((TOOLCHAIN, COMMANDS))
    ]
    assert upward == []


def test_the_toolchain_never_imports_the_commands():
    assert [
        f"{n} -> {t}"
        for n, ts in import_graph().items()
        if n.startswith(TOOLCHAIN)
        for t in ts
        if t.startswith(COMMANDS)
    ] == []


def _imported_after(code: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after ``code`` runs."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _converters_among(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith((TOOLCHAIN, *CONVERTER_PACKAGES))]


def test_the_front_door_and_every_runtime_import_no_converter():
    modules = _imported_after(
        "import tinysam_mobile\n"
        "from tinysam_mobile import Predictor, AutoMaskGenerator, sam_model_registry, open_bundle\n"
        "from tinysam_mobile.runtimes import runtime_class\n"
        f"for target in {sorted(TARGETS)!r}:\n"
        "    runtime_class(target)"
    )
    assert "tinysam_mobile.runtimes.coreai_runtime" in modules and _converters_among(modules) == []


@pytest.mark.parametrize(
    "target", ["coreai", "coreml", "tflite", pytest.param("executorch", marks=pytest.mark.slow)]
)  # an ExecuTorch bundle takes a minute to lower, even at the tiny config
def test_opening_and_asking_a_bundle_imports_no_converter(target, tiny_bundle_factory):
    bundle = tiny_bundle_factory(target)
    modules = _imported_after(
        "import numpy as np\n"
        "from tinysam_mobile import Predictor\n"
        f"p = Predictor.from_bundle({str(bundle)!r}, num_threads=1)\n"
        "p.set_image(np.zeros((64, 80, 3), np.uint8))\n"
        "p.predict(point_coords=np.array([[10, 20]]), point_labels=np.array([1]))"
    )
    assert _converters_among(modules) == []
