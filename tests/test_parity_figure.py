"""parity.png: one captioned panel per case, failing cases first (no conversion: a made-up report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tinysam_mobile.toolchain.parity import CaseResult, ParityReport
from tinysam_mobile.toolchain.parity_figure import ordered_cases, parity_figure, write_report
from tinysam_mobile.toolchain.recipes import Thresholds
from tinysam_mobile.visualize import LINE_HEIGHT

SIZE = (48, 64)  # photo height, width


def _case(name: str, mask_iou: float, shift: int) -> CaseResult:
    reference = np.zeros(SIZE, bool)
    reference[10:30, 10:40] = True
    candidate = np.roll(reference, shift, axis=1)
    metrics = {
        "logit_max_abs": 1e-4 if mask_iou == 1.0 else 0.3,
        "logit_cosine": 1.0,
        "mask_iou": mask_iou,
        "mean_mask_iou": mask_iou,
        "iou_delta": 0.0,
        "best_mask_agrees": 1.0,
    }
    prompt = {"point_coords": np.array([[20.0, 20.0]]), "point_labels": np.array([1]), "box": None}
    return CaseResult("photo.png", name, metrics, reference, candidate, prompt)


def _report(tmp_path: Path) -> ParityReport:
    photo = tmp_path / "photo.png"
    Image.new("RGB", SIZE[::-1], (128, 128, 128)).save(photo)
    cases = [_case("exact", 1.0, 0), _case("off", 0.5, 12), _case("exact_too", 1.0, 0)]
    return ParityReport(
        "torch", "artifact", cases, {"photo.png": 1.0}, Thresholds(), photos={"photo.png": photo}
    )


def _has_red(picture: Image.Image) -> bool:
    rgb = np.asarray(picture).astype(int)
    return bool(((rgb[..., 0] > 150) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).any())


def test_failing_cases_come_first_then_the_worst(tmp_path: Path):
    report = _report(tmp_path)
    assert report.case_failures(report.cases[1]) == ["logit_max_abs 0.3 > 0.001", "mask_iou 0.5 < 0.999"]
    assert [c.case for c in ordered_cases(report)] == ["off", "exact", "exact_too"]
    report.untrained, report.thresholds = True, Thresholds(judge="trained")  # not judged: nothing fails
    assert not any(report.case_failures(c) for c in report.cases)


def test_one_panel_per_case_with_the_failure_in_the_first(tmp_path: Path):
    report = _report(tmp_path)
    picture = parity_figure(report, panel=64, columns=2)
    gap, cell_w = 8, 64 + 8
    header = LINE_HEIGHT * (1 + 2 + 1) + gap  # headline, two failed bounds, legend
    cell_h = 64 + LINE_HEIGHT * 4 + 4 + gap  # the failing panel's caption: 2 lines + 2 failures
    assert picture.size == (gap + 2 * cell_w, header + 2 * cell_h)  # 3 cases in rows of 2
    cells = [
        picture.crop(
            (gap + c * cell_w, header + r * cell_h, gap + (c + 1) * cell_w, header + (r + 1) * cell_h)
        )
        for r in range(2)
        for c in range(2)
    ]
    assert [_has_red(c) for c in cells[:3]] == [True, False, False]  # the failing case first
    assert np.asarray(cells[3]).min() == 255  # and nothing else
    json_path, png_path = write_report(report, tmp_path / "parity")
    assert Image.open(png_path).size == parity_figure(report).size and json_path.exists()
