"""The decoder program against an earlier one: MACs per prompt and runtime time, side by side.

    python benchmarks/decoder_floor.py [--baseline REF] [--cases executorch/fp32 tflite/fp32 ...]
        [--threads 2] [--rounds 15] [--work DIR] [--out benchmarks/DECODER_FLOOR.md]

Each case's decoder program (the one a bundle ships: ExecuTorch's takes 1 to 64 prompts per call,
LiteRT's one) is converted twice from the same untrained full-size weights: by the code at
``--baseline`` (a git ref, checked out in a temporary worktree and imported from there) and by the
current tree. Both programs then run interleaved in one process (one-point prompts, 8 slots, a
fixed embedding), so the ratio holds on any machine; the table gives the median ms per prompt of
each and their ratio, with the MACs per prompt of each ``DecoderModule`` counted by PyTorch's flop
counter. ``--work DIR`` keeps the converted programs there and reuses them on the next run (convert
while the machine is busy, time when it is quiet).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
MAX_POINTS = 8

# Runs inside one tree (PYTHONPATH = that tree): converts the decoder of each case and counts MACs.
CONVERT = """
import json, sys, torch
from pathlib import Path
from torch.utils.flop_counter import FlopCounterMode
from tinysam_mobile.modeling import TINYSAM, build_untrained
from tinysam_mobile.toolchain.converters import get_backend
from tinysam_mobile.toolchain.export import decoder_example_inputs
torch.set_num_threads(2)
out, cases = Path(sys.argv[1]), sys.argv[2:]
model = build_untrained(TINYSAM, seed=0)
result = {"module": __import__("tinysam_mobile").__file__}
for case in cases:
    target, recipe = case.split("/")
    backend = get_backend(target)
    jobs = backend.program_jobs(model, backend.load_recipe(recipe), max_points=SLOTS)
    (job,) = [j for j in jobs if j.name == "decoder"]
    path = backend.convert_program(job, out / f"{target}-{recipe}{backend.target.suffix}", lambda _m: None)
    macs = {}
    for batch in (1, 64):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            job.module(*decoder_example_inputs(model, SLOTS, batch))
        macs[batch] = counter.get_total_flops() / 2 / batch
    result[case] = {"path": str(path), "macs": macs, "max_batch": job.max_batch}
print(json.dumps(result))
""".replace("SLOTS", str(MAX_POINTS))


def convert(tree: Path, out: Path, cases: list[str]) -> dict:
    """Convert the cases' decoders with the code in ``tree``."""
    out.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run(
        [sys.executable, "-c", CONVERT, str(out), *cases], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode != 0:
        raise SystemExit(f"conversion in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def converted(baseline: str, work: Path, cases: list[str]) -> dict:
    """Both sides' programs: the baseline's from a temporary worktree of ``baseline``."""
    tree = work / "baseline-tree"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), baseline],
        check=True,
        capture_output=True,
    )
    try:
        print(f"converting with {baseline} and with the current tree ...", flush=True)
        return {
            "baseline": convert(tree, work / "baseline-programs", cases),
            "current": convert(REPO, work / "current-programs", cases),
        }
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True
        )


def feeds(batch: int) -> dict[str, np.ndarray]:
    """One-point prompts (official packing, unused slots -2) against a fixed embedding."""
    from tinysam_mobile.contract import DECODER_INPUTS, LABEL_FOREGROUND, LABEL_NOT_A_POINT, LABEL_UNUSED

    rng = np.random.default_rng(0)
    coords = np.zeros((batch, MAX_POINTS, 2), np.float32)
    coords[:, 0] = rng.uniform(0, 1024, (batch, 2))
    labels = np.full((batch, MAX_POINTS), LABEL_UNUSED, np.float32)
    labels[:, :2] = (LABEL_FOREGROUND, LABEL_NOT_A_POINT)
    embedding = rng.normal(size=(1, 256, 64, 64)).astype(np.float32)
    mask = np.zeros((batch, 1, 256, 256), np.float32)
    values = (embedding, coords, labels, mask, np.zeros(batch, np.float32))
    return dict(zip(DECODER_INPUTS, values, strict=True))


def program_call(target: str, path: Path, threads: int):
    """One call of a decoder program through its runtime's own loader."""
    from tinysam_mobile.contract import DECODER_INPUTS, DECODER_OUTPUTS

    if target == "executorch":
        from executorch.runtime import Runtime

        from tinysam_mobile.runtimes.executorch_runtime import ExecuTorchRuntime, set_xnnpack_threads

        set_xnnpack_threads(threads)
        method = ExecuTorchRuntime._load(Runtime.get(), path)
        return lambda feed: method.execute([torch.from_numpy(feed[n]) for n in DECODER_INPUTS])
    from tinysam_mobile.runtimes.litert_runtime import LiteRTRuntime

    runner = LiteRTRuntime._load(path, threads, DECODER_INPUTS, DECODER_OUTPUTS)
    return lambda feed: runner(**feed)


def timed(sides: dict, cases: list[str], threads: int, rounds: int) -> list[tuple]:
    """(case, B, ms per prompt by side, GMAC per prompt by side) for every case and batch."""
    rows = []
    for case in cases:
        target = case.split("/")[0]
        for batch in [1, 64] if sides["current"][case]["max_batch"] > 1 else [1]:
            feed = feeds(batch)
            calls = {side: program_call(target, Path(s[case]["path"]), threads) for side, s in sides.items()}
            times: dict[str, list[float]] = {side: [] for side in calls}
            for call in calls.values():
                call(feed)  # warm-up
            for _ in range(rounds):  # interleaved: both sides see the same machine state
                for side, call in calls.items():
                    start = time.perf_counter()
                    call(feed)
                    times[side].append((time.perf_counter() - start) * 1000 / batch)
            ms = {side: statistics.median(t) for side, t in times.items()}
            macs = {side: sides[side][case]["macs"][str(batch)] / 1e9 for side in sides}
            rows.append((case, batch, ms, macs))
            print(f"{case} B={batch}: {ms} ms/prompt, {macs} GMAC/prompt", flush=True)
    return rows


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            flags = Path("/proc/cpuinfo").read_text()
            return line.split(":", 1)[1].strip() + (" (AVX-512)" if "avx512f" in flags else " (no AVX-512)")
    return platform.processor()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="19d33a3", help="git ref of the earlier decoder program")
    parser.add_argument("--cases", nargs="+", default=["executorch/fp32", "tflite/fp32"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--work", type=Path, help="keep (and reuse) the converted programs here")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/DECODER_FLOOR.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="decoder-floor-") as tmp:
        work = args.work or Path(tmp)
        record = work / "programs.json"
        if record.is_file():
            sides = json.loads(record.read_text())
        else:
            sides = converted(args.baseline, work, args.cases)
            record.write_text(json.dumps(sides))
        rows = timed(sides, args.cases, args.threads, args.rounds)
    lines = [
        "# The decoder at its floor: this program against the previous one",
        "",
        f"Command: `python benchmarks/decoder_floor.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"Machine: {cpu_model()}, {args.threads} threads, {time.strftime('%Y-%m-%d')}. Full-size decoder,"
        f" {MAX_POINTS} slots, one-point prompts, untrained weights (timing does not depend on them);"
        f" median of {args.rounds} interleaved calls, ms per prompt. Baseline: the decoder program at"
        f" `{args.baseline}`.",
        "",
        "| program | B | baseline ms / prompt | this ms / prompt | ratio | baseline GMAC / prompt"
        " | this GMAC / prompt | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, batch, ms, macs in rows:
        lines.append(
            f"| {case} | {batch} | {ms['baseline']:.1f} | {ms['current']:.1f} | "
            f"{ms['current'] / ms['baseline']:.2f}x | {macs['baseline']:.3f} | {macs['current']:.3f} | "
            f"{macs['current'] / macs['baseline']:.2f}x |"
        )
    # The written analysis below the table (from its "## " heading on) survives a rerun.
    notes = args.out.read_text().partition("\n## ") if args.out.is_file() else ("", "", "")
    tail = f"\n## {notes[2]}" if notes[1] else ""
    args.out.write_text("\n".join(lines) + "\n" + tail)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
