"""``parity.png``: per case the photo with its prompt, the reference and artifact masks outlined in
two colours, and a caption (case, mask IoU, logit max-abs, the bounds it fails); failing cases
first, then the lowest mask IoU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..visualize import (
    BOX_COLOR,
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    TEXT_COLOR,
    Color,
    outlined_panel,
    panel_sheet,
)
from .parity import CaseResult, ParityReport

REFERENCE_COLOR: Color = (0, 120, 255)
CANDIDATE_COLOR: Color = (255, 0, 190)
FAIL_COLOR: Color = (200, 0, 0)
PASS_COLOR: Color = (0, 130, 0)
NOTE_COLOR: Color = (110, 110, 110)
COLUMNS = 5


def ordered_cases(report: ParityReport) -> list[CaseResult]:
    """Failing cases first, then by ascending mask IoU (worst first); ties keep the run order."""
    return sorted(report.cases, key=lambda c: (not report.case_failures(c), c.metrics["mask_iou"]))


def _photo(report: ParityReport, case: CaseResult) -> np.ndarray:
    path = report.photos.get(case.photo)
    if path is None:  # no photo at hand: a grey canvas of the mask's size
        return np.full((*case.reference_mask.shape, 3), 128, np.uint8)
    return np.asarray(Image.open(path).convert("RGB"))


def _captions(report: ParityReport, case: CaseResult) -> list[tuple[str, Color]]:
    m = case.metrics
    lines = [
        (f"{case.photo}: {case.case}", TEXT_COLOR),
        (f"mask IoU {m['mask_iou']:.4f}  logit max-abs {m['logit_max_abs']:.3g}", TEXT_COLOR),
    ]
    if not report.judged:
        return [*lines, ("not judged (untrained weights)", NOTE_COLOR)]
    failures = [(f"FAIL {f}", FAIL_COLOR) for f in report.case_failures(case)]
    return [*lines, *(failures or [("ok", PASS_COLOR)])]


def _title(report: ParityReport) -> list[tuple[str, Color]]:
    head = f"parity of {report.candidate} against {report.reference}"
    if not report.judged:
        return [(f"{head}: measured, not judged (untrained weights)", NOTE_COLOR)]
    if report.failures:
        return [(f"{head}: FAILED", FAIL_COLOR), *[(f, FAIL_COLOR) for f in report.failures]]
    return [(f"{head}: passed", PASS_COLOR)]


def parity_figure(report: ParityReport, panel: int = 256, columns: int = COLUMNS) -> Image.Image:
    """The report as one picture (see the module docstring), :func:`ordered_cases` row by row."""
    panels = [
        outlined_panel(
            _photo(report, case),
            [(case.reference_mask, REFERENCE_COLOR, 3), (case.candidate_mask, CANDIDATE_COLOR, 1)],
            case.prompt,
            _captions(report, case),
            panel,
        )
        for case in ordered_cases(report)
    ]
    legend = [
        ("reference mask", REFERENCE_COLOR),
        ("artifact mask", CANDIDATE_COLOR),
        ("positive point", POSITIVE_COLOR),
        ("negative point", NEGATIVE_COLOR),
        ("box", BOX_COLOR),
    ]
    return panel_sheet(panels, columns, _title(report), legend)


def write_report(report: ParityReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``parity.json`` and ``parity.png`` (:func:`parity_figure`) to ``out_dir``."""
    json_path = report.write_json(out_dir / "parity.json")
    png_path = out_dir / "parity.png"
    parity_figure(report).save(png_path)
    return json_path, png_path
