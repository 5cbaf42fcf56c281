"""Where the time of an ExecuTorch encoder goes: XNNPACK's per-operator timings from an ETDump.

    python benchmarks/profile_executorch.py BUNDLE_DIR [--threads 2] [--repeats 5] [--out FILE]

The bundle's encoder.pte runs ``--repeats`` times with event tracing on (the executorch wheel's
XNNPACK delegate reports each of its operators); the table sums the median time of every operator
per XNNPACK kind and sets it against the whole delegate call.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile.assets import bundled_photos
from tinysam_mobile.bundle.manifest import read_manifest
from tinysam_mobile.runtimes.executorch_runtime import set_xnnpack_threads
from tinysam_mobile.transforms import preprocess


def operator_table(etdump: Path) -> tuple[list[tuple[str, float, int]], float]:
    """(kind, summed median ms, count) per XNNPACK operator kind, and the delegate call's median ms."""
    from executorch.devtools import Inspector

    frame = Inspector(etdump_path=str(etdump)).to_dataframe()
    executed = frame[frame.event_block_name == "Execute"]
    total = float(executed[executed.event_name == "DELEGATE_CALL"]["p50 (ms)"].sum())
    ops = executed[~executed.event_name.isin(["DELEGATE_CALL", "Method::execute"])]
    kinds: dict[str, tuple[float, int]] = {}
    for name, ms in zip(ops.event_name, ops["p50 (ms)"], strict=True):
        kind = re.sub(r" #\d+$", "", name)
        old = kinds.get(kind, (0.0, 0))
        kinds[kind] = (old[0] + float(ms), old[1] + 1)
    rows = sorted(((k, ms, n) for k, (ms, n) in kinds.items()), key=lambda r: -r[1])
    return rows, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/PROFILE.md"))
    args = parser.parse_args(argv)
    from executorch.runtime import Runtime

    manifest = read_manifest(args.bundle)
    if manifest["target"] != "executorch":
        parser.error(f"{args.bundle} is a {manifest['target']} bundle; this profiles ExecuTorch bundles")
    set_xnnpack_threads(args.threads)
    encoder = args.bundle / manifest["artifacts"]["encoder"]["file"]
    program = Runtime.get().load_program(encoder, enable_etdump=True)
    method = program.load_method("forward")
    image = torch.from_numpy(preprocess(np.asarray(Image.open(bundled_photos()[0]).convert("RGB")))[0])
    for _ in range(args.repeats):
        method.execute([image])
    with tempfile.TemporaryDirectory() as tmp:
        etdump = Path(tmp) / "etdump.etdp"
        program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))
        rows, total = operator_table(etdump)
    command = " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# Where the ExecuTorch encoder's time goes",
        "",
        f"Command: `python benchmarks/profile_executorch.py {command}`",
        f"Bundle: {manifest['recipe']['name']}, {args.threads} threads, medians over {args.repeats} runs; "
        f"the whole encoder is {'one XNNPACK delegate call' if total else 'not delegated'} "
        f"({total:.1f} ms).",
        "",
        "| XNNPACK operator | ms | share of the delegate call | count |",
        "|---|---|---|---|",
        *(f"| {kind} | {ms:.1f} | {ms / total:.1%} | {n} |" for kind, ms, n in rows),
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
