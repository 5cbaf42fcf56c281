"""Per-prompt decoder cost against the prompt batch B, per runtime and precision, in one run.

    python benchmarks/decoder_batch.py [--batches 1 4 16 64] [--skip CASE/B ...] [--threads 2] [--repeats 5]
        [--cases executorch/fp32 executorch/w8a8 tflite/fp32 tflite/w8a8]
        [--out benchmarks/DECODER_BATCH.md]

For every case and B, the full-size decoder program (untrained seed-0 weights: timing does not
depend on them) is converted with B prompts per call and run on one-point prompts against one
embedding; the table gives milliseconds per prompt (median of ``--repeats`` calls divided by B) and
the ratio to B = 1 of the same case. Eager PyTorch (the reference model's ``Sam.decode`` and the
exported ``DecoderModule``) is the first rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tinysam_mobile.contract import DECODER_INPUTS, DECODER_OUTPUTS, LABEL_FOREGROUND, LABEL_NOT_A_POINT
from tinysam_mobile.modeling import TINYSAM, Sam, build_untrained
from tinysam_mobile.prompts import PromptBatch
from tinysam_mobile.runtimes.base import decoder_feeds
from tinysam_mobile.toolchain.converters import get_backend
from tinysam_mobile.toolchain.converters.base import ProgramJob
from tinysam_mobile.toolchain.export import DecoderModule, decoder_example_inputs

MAX_POINTS = 8


def one_point_prompts(batch: int) -> PromptBatch:
    """``batch`` single-point prompts at different places (official packing)."""
    rng = np.random.default_rng(0)
    coords = np.zeros((batch, 2, 2), np.float32)
    coords[:, 0] = rng.uniform(0, 1024, (batch, 2))
    labels = np.tile(np.array([LABEL_FOREGROUND, LABEL_NOT_A_POINT], np.float32), (batch, 1))
    return PromptBatch(coords, labels)


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def static_batch(job: ProgramJob, model: Sam, batch: int) -> ProgramJob:
    """``job`` as a static program of exactly ``batch`` prompts (example and calibration)."""

    def calibration():
        for args in job.calibration():
            emb, *rest = args
            rows = torch.arange(batch) % rest[0].shape[0]
            yield (emb, *(t[rows] for t in rest))

    example = decoder_example_inputs(model, MAX_POINTS, batch)
    return dataclasses.replace(job, example=example, calibration=calibration, max_batch=1)


def program_call(target_name: str, path: Path, threads: int) -> Callable[[dict], object]:
    """One call of a converted decoder program through its runtime's loader."""
    if target_name == "executorch":
        from executorch.runtime import Runtime

        from tinysam_mobile.runtimes.executorch_runtime import ExecuTorchRuntime, set_xnnpack_threads

        set_xnnpack_threads(threads)
        method = ExecuTorchRuntime._load(Runtime.get(), path)
        return lambda feed: method.execute([torch.from_numpy(feed[n]) for n in DECODER_INPUTS])
    from tinysam_mobile.runtimes.litert_runtime import LiteRTRuntime

    runner = LiteRTRuntime._load(path, threads, DECODER_INPUTS, DECODER_OUTPUTS)
    return lambda feed: runner(**feed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["executorch/fp32", "executorch/w8a8", "tflite/fp32", "tflite/w8a8"],
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], metavar="CASE/B", help="e.g. tflite/w8a8/64 (not measured)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/DECODER_BATCH.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build_untrained(TINYSAM, seed=0)
    embeddings = np.random.default_rng(1).normal(size=(1, 256, 64, 64)).astype(np.float32)
    rows: list[tuple[str, int, float]] = []

    def report(case: str, batch: int, ms: float) -> None:
        rows.append((case, batch, ms / batch))
        print(f"{case:28s} B={batch:3d} {ms / batch:7.2f} ms/prompt", flush=True)

    program = DecoderModule(model).eval()
    for batch in args.batches:
        feed = next(decoder_feeds(embeddings, one_point_prompts(batch), MAX_POINTS, batch))
        tensors = [torch.from_numpy(feed[n]) for n in DECODER_INPUTS]
        with torch.inference_mode():
            report(
                "eager Sam.decode",
                batch,
                median_ms(lambda t=tensors: model.decode(t[0], t[1], t[2]), args.repeats),
            )
            report("eager DecoderModule", batch, median_ms(lambda t=tensors: program(*t), args.repeats))
    for case in args.cases:
        target_name, recipe_name = case.split("/")
        backend = get_backend(target_name)
        recipe = backend.load_recipe(recipe_name)
        for batch in args.batches:
            if f"{case}/{batch}" in args.skip:
                continue
            dynamic = backend.decoder_batch > 1  # else a static program of exactly B prompts
            jobs = backend.program_jobs(
                model, recipe, max_points=MAX_POINTS, decoder_batch=batch if dynamic else 1
            )
            (job,) = [j for j in jobs if j.name == "decoder"]
            if not dynamic:
                job = static_batch(job, model, batch)
            with tempfile.TemporaryDirectory() as tmp:
                path = backend.convert_program(
                    job, Path(tmp) / f"decoder{backend.target.suffix}", lambda _m: None
                )
                call = program_call(target_name, path, args.threads)
                feed = next(decoder_feeds(embeddings, one_point_prompts(batch), MAX_POINTS, batch))
                report(case, batch, median_ms(lambda c=call, f=feed: c(f), args.repeats))
    lines = [
        "# Decoder cost per prompt against the prompt batch",
        "",
        f"Command: `python benchmarks/decoder_batch.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"Full-size decoder, {MAX_POINTS} slots, one-point prompts, {args.threads} threads, median of "
        f"{args.repeats} calls; ms per prompt and the ratio to B = 1 of the same row.",
        "",
        "| runtime / recipe | " + " | ".join(f"B = {b}" for b in args.batches) + " |",
        "|---|" + "---|" * len(args.batches),
    ]
    if args.skip:
        lines[4:4] = [f"Not measured: {', '.join(args.skip)}.", ""]
    for case in dict.fromkeys(r[0] for r in rows):
        values = {b: ms for c, b, ms in rows if c == case}
        base = values[args.batches[0]]
        cells = [
            f"{values[b]:.1f} ms ({values[b] / base:.2f}x)" if b in values else "not measured"
            for b in args.batches
        ]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
