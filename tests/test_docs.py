"""Every command in the docs runs: the ```bash blocks of README.md, docs/*.md and web_demo/README.md.

Each command is found in the documents and run the way it is written, except that what would take
minutes at full size runs at the tiny config (``--checkpoint untrained --model-config tiny-test``,
a two-step training run) and outputs go to a temporary folder. A command the table below does not
know fails the first test, so a new or edited command cannot drift from what runs. Fenced blocks
marked ``text`` are synopses (option lists), not commands.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "web_demo" / "README.md"]
TEST_COMMAND = "bash scripts/bootstrap.sh tests && .venv/bin/python -m pytest"
TINY = ["--checkpoint", "untrained", "--model-config", "tiny-test"]


def documented_commands() -> list[tuple[str, str]]:
    """``(document, command)`` for every command of every ```bash block (continuation lines
    joined; ``&&`` chains split into their commands; comments dropped)."""
    found = []
    for doc in DOCUMENTS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
            text = re.sub(r"\\\n\s*", " ", block)
            for line in text.splitlines():
                line = line.split(" #")[0].strip()
                if line and not line.startswith("#"):
                    found += [(doc.relative_to(ROOT).as_posix(), part.strip()) for part in line.split(" && ")]
    return found


def _python(argv: list[str]) -> list[str]:
    """``.venv/bin/python ...`` as this interpreter (the tests run in that venv)."""
    return [sys.executable, *argv[1:]] if argv[0].endswith("python") else argv


def _with(argv: list[str], option: str, value: str | None) -> list[str]:
    """``argv`` with ``option``'s value replaced (or the option added / removed with ``None``)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == option:
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("--")
            continue
        out.append(arg)
    return out if value is None else [*out, option, value]


def _run(argv: list[str], cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(_python(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{shlex.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result


def run_bootstrap(argv: list[str], tmp_path: Path, fixtures: dict) -> None:
    _run(argv)  # idempotent: a set-up already done installs nothing


def run_tiny_command(argv: list[str], tmp_path: Path, fixtures: dict) -> None:
    """convert / segment / everything / evaluate at the tiny config, outputs in ``tmp_path``."""
    argv = [*argv[:3], *(_abs(a) for a in argv[3:])]
    argv = _with(_with(argv, "--checkpoint", None), "--model-config", None) + TINY
    if "--bundle" in argv:
        argv = _with(argv, "--bundle", str(fixtures["bundle"](_target_of(argv))))
    if "--out" in argv or argv[2].endswith(("convert", "segment", "everything")):
        argv = _with(
            argv, "--out", str(tmp_path / ("out.png" if not argv[2].endswith("convert") else "bundle"))
        )
    _run(argv)


def run_train(argv: list[str], tmp_path: Path, fixtures: dict) -> None:
    """The documented training run, two tiny steps long."""
    for option, value in (
        ("--out", str(tmp_path / "run")),
        ("--steps", "2"),
        ("--resolution", "64"),
        ("--config", "tiny-test"),
        ("--eval-every", "0"),
        ("--threads", "1"),
    ):
        argv = _with(argv, option, value)
    _run(_with(argv, "--resume", None))


def run_export(argv: list[str], tmp_path: Path, fixtures: dict) -> None:
    """export_synthetic.py on a (full-size, untrained) checkpoint, writing into ``tmp_path``."""
    out, scenes = str(tmp_path / "weights.pth"), str(tmp_path / "scenes")
    _run([argv[0], argv[1], str(fixtures["full_checkpoint"]), "--out", out, "--scenes", scenes])


def run_web_server(argv: list[str], tmp_path: Path, fixtures: dict) -> None:
    """The web demo's server on the tiny LiteRT bundle: it starts and serves the page."""
    serve = _load(ROOT / "scripts" / "serve_web_demo.py")
    bundle = fixtures["bundle"]("tflite")
    if not (ROOT / "web_demo" / "node_modules").is_dir():
        pytest.skip("web_demo/node_modules is missing (bash scripts/bootstrap.sh web)")
    photo = ROOT / "tinysam_mobile" / "assets" / "photos" / "picture1.jpg"
    server = serve.make_server(bundle, photo, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        server.shutdown()


def _abs(arg: str) -> str:
    """Repository paths in a documented command, made absolute (the command runs from the root)."""
    return str(ROOT / arg) if (ROOT / arg).exists() and "/" in arg else arg


def _target_of(argv: list[str]) -> str:
    return argv[argv.index("--target") + 1] if "--target" in argv else "tflite"


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (pattern on the command, how it runs, marks): the first match runs a command.
RUNNERS: list[tuple[str, Callable, tuple]] = [
    (r"^bash scripts/bootstrap\.sh( [a-z]+)+$", run_bootstrap, ()),
    (
        r"^\.venv/bin/python -m tinysam_mobile\.convert .*--target (executorch)",
        run_tiny_command,
        (pytest.mark.slow,),
    ),
    (r"^\.venv/bin/python -m tinysam_mobile\.(convert|segment|everything|evaluate) ", run_tiny_command, ()),
    (r"^\.venv/bin/python -m tinysam_mobile\.train ", run_train, ()),
    (r"^\.venv/bin/python scripts/export_synthetic\.py ", run_export, ()),
    (r"^\.venv/bin/python scripts/serve_web_demo\.py ", run_web_server, ()),
]


def _runner(command: str) -> tuple[Callable, tuple] | None:
    for pattern, runner, marks in RUNNERS:
        if re.search(pattern, command):
            return runner, marks
    return None


COMMANDS = [(doc, cmd) for doc, cmd in documented_commands() if f"{cmd}" not in TEST_COMMAND.split(" && ")]


def test_every_documented_command_is_run_here():
    assert COMMANDS, "no commands found: the docs parser is broken"
    unknown = [f"{doc}: {cmd}" for doc, cmd in COMMANDS if _runner(cmd) is None]
    assert unknown == [], "commands no test runs (add a runner in tests/test_docs.py):\n" + "\n".join(unknown)


def test_the_test_command_is_what_ci_runs():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()
    assert any(cmd == ".venv/bin/python -m pytest" for _, cmd in documented_commands())


@pytest.fixture(scope="module")
def fixtures(tiny_bundle_factory, full_checkpoint) -> dict:
    return {"bundle": tiny_bundle_factory, "full_checkpoint": full_checkpoint}


@pytest.mark.parametrize(
    "doc,command",
    [pytest.param(d, c, marks=(_runner(c) or (None, ()))[1], id=f"{d}:{c[:60]}") for d, c in COMMANDS],
)
def test_documented_command_runs(doc, command, tmp_path, fixtures):
    runner, _ = _runner(command)
    runner(shlex.split(command), tmp_path, fixtures)
