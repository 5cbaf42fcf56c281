"""The web demo (web_demo/): its JavaScript core against the golden vectors (node's test runner),
its server, and the page end to end in Debian's Chromium, compared with the Python ``Predictor``
on the same LiteRT bundle and photo.

The browser tests need ``bash scripts/bootstrap.sh web`` (Chromium from Debian, the page's npm
packages) and the LiteRT extra; without them they are skipped with the command to run. The page's
screenshot is written under pytest's temporary directory (its path is printed) and, when
``TINYSAM_TEST_REPORTS`` names a folder, copied there too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web_demo"
GOLDEN = ROOT / "tests" / "golden"
PHOTO = ROOT / "tinysam_mobile" / "assets" / "photos" / "picture1.jpg"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node")
SETUP = "bash scripts/bootstrap.sh web"
TFLITE_FILES = ("manifest.json", "encoder.tflite", "decoder.tflite")
MIN_MASK_IOU = 0.99
MAX_IOU_DELTA = 1e-3


def _load_script(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = _load_script("serve_web_demo", ROOT / "scripts" / "serve_web_demo.py")


def _node_modules_missing() -> str | None:
    for package in ("@litertjs/core", "@litertjs/wasm-utils", "playwright-core"):
        if not (WEB / "node_modules" / package / "package.json").is_file():
            return f"web_demo/node_modules/{package} is missing ({SETUP})"
    return None


@pytest.fixture(scope="module")
def litert() -> None:
    """Skip (with the set-up command) unless LiteRT bundles can be built and run here."""
    for module in ("ai_edge_litert", "litert_torch"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (bash scripts/bootstrap.sh tflite)")


@pytest.fixture(scope="module")
def browser_setup(litert: None) -> None:
    """Skip (with the set-up command) unless the browser tests can run here."""
    if NODE is None:
        pytest.skip(f"node is not installed ({SETUP})")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing ({SETUP})")
    missing = _node_modules_missing()
    if missing:
        pytest.skip(missing)


# ------------------------------------------------------------------ node's test runner


def test_javascript_core_passes_the_golden_vectors():
    """node --test on web_demo/test/: the golden vectors of the Kotlin / Swift cores, plus the web
    core's own tests (they need no npm package, only node)."""
    if NODE is None:
        pytest.skip(f"node is not installed ({SETUP})")
    files = sorted(str(p.relative_to(ROOT)) for p in (WEB / "test").glob("*.test.js"))
    assert len(files) >= 3, files
    run = subprocess.run([NODE, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = [line for line in run.stdout.splitlines() if line.startswith("# ")]
    print("\n".join(summary))
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, "\n".join(summary)


def test_pillow_resize_fixture_is_up_to_date():
    """web_demo/testing/pillow_resize.json pins the pass order of the Pillow installed here."""
    make = _load_script("make_fixtures", WEB / "testing" / "make_fixtures.py")
    on_disk = json.loads((WEB / "testing" / "pillow_resize.json").read_text())
    assert on_disk == make.build(), "stale: run .venv/bin/python web_demo/testing/make_fixtures.py"


# ------------------------------------------------------------------ the server


@contextmanager
def serving(bundle: Path, photo: Path = PHOTO) -> Iterator[str]:
    """scripts/serve_web_demo.py on a free port of 127.0.0.1, in a thread."""
    server = serve.make_server(bundle, photo, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_server_serves_page_bundle_and_wasm_with_isolation_headers(litert, tiny_bundle_factory):
    if _node_modules_missing():
        pytest.skip(_node_modules_missing())
    bundle = tiny_bundle_factory("tflite")
    with serving(bundle) as url:
        for path, content_type in [
            ("", "text/html"),
            ("app.js", "text/javascript"),
            ("bundle/manifest.json", "application/json"),
            ("bundle/decoder.tflite", "application/octet-stream"),
            ("node_modules/@litertjs/core/wasm/litert_wasm_threaded_internal.wasm", "application/wasm"),
            ("photo", "image/jpeg"),
        ]:
            status, headers, body = _get(url + path)
            assert status == 200, path
            assert headers["Content-Type"].startswith(content_type), (path, headers["Content-Type"])
            assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert int(headers["Content-Length"]) == len(body)
        assert _get(url + "photo")[1]["Content-Disposition"] == 'inline; filename="picture1.jpg"'
        assert _get(url + "bundle/decoder.tflite")[2] == (bundle / "decoder.tflite").read_bytes()
        for outside in (
            "../pyproject.toml",
            "bundle/../../pyproject.toml",
            "%2e%2e/pyproject.toml",
            "bundle/",
        ):
            assert _get(url + outside)[0] == 404, outside


def test_server_refuses_what_the_page_cannot_run(litert, tmp_path, tiny_bundle_factory):
    with pytest.raises(serve.SetupError, match=r"bash scripts/bootstrap\.sh web"):
        serve.check_setup(tmp_path)
    coreml = tmp_path / "coreml"
    shutil.copytree(tiny_bundle_factory("tflite"), coreml)
    manifest = json.loads((coreml / "manifest.json").read_text())
    manifest["target"] = "coreml"
    (coreml / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(serve.SetupError, match=r"'coreml' bundle; the web demo runs LiteRT bundles only"):
        serve.check_bundle(coreml)
    with pytest.raises(serve.SetupError, match=r"is not a usable bundle: .*manifest\.json is missing"):
        serve.check_bundle(tmp_path)
    (coreml / "decoder.tflite").write_bytes(b"tampered")
    manifest["target"] = "tflite"
    (coreml / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(serve.SetupError, match="does not match its sha256"):
        serve.check_bundle(coreml)
    assert serve.main(["--bundle", str(tmp_path)]) == 2


# ------------------------------------------------------------------ the page in Chromium


def run_page(url: str, steps: list[dict], tmp_path: Path, screenshot: Path | None = None) -> dict:
    """Run web_demo/e2e/run_e2e.mjs on the page; its JSON report."""
    plan = {"url": url, "steps": steps, "timeoutMs": 900_000, "chromium": str(CHROMIUM)}
    if screenshot is not None:
        plan["screenshot"] = str(screenshot)
    plan_file, report_file = tmp_path / "plan.json", tmp_path / "report.json"
    plan["report"] = str(report_file)
    report_file.unlink(missing_ok=True)
    plan_file.write_text(json.dumps(plan))
    run = subprocess.run(
        [NODE, str(WEB / "e2e" / "run_e2e.mjs"), str(plan_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert report_file.is_file(), f"run_e2e.mjs wrote no report (exit {run.returncode}): {run.stderr[-4000:]}"
    report = json.loads(report_file.read_text())
    assert run.returncode == 0 and not report.get("failure"), json.dumps(report, indent=1)[-8000:]
    assert not report["pageErrors"], report["pageErrors"]
    return report


def rle_decode(runs: list[int], size: int) -> np.ndarray:
    """web_demo/core/mask_post.js's row-major RLE (zeros first) -> a flat bool mask."""
    bits = np.zeros(size, dtype=bool)
    at = 0
    for k, length in enumerate(runs):
        if k % 2:
            bits[at : at + length] = True
        at += length
    assert at == size, f"the runs cover {at} pixels, expected {size}"
    return bits


def compare_with_predictor(bundle: Path, photo: Path, predictions: list[dict]) -> list[dict]:
    """Each page prediction against Predictor.from_bundle on the same photo and prompt."""
    from tinysam_mobile.predictor import Predictor

    predictor = Predictor.from_bundle(bundle)
    predictor.set_image(photo)
    rows = []
    for last in predictions:
        prompt = last["prompt"]
        points = np.array(prompt["points"], dtype=np.float64) if prompt["points"] else None
        labels = np.array(prompt["labels"], dtype=np.float64) if prompt["points"] else None
        box = np.array(prompt["box"], dtype=np.float64) if prompt["box"] else None
        masks, iou, _ = predictor.predict(points, labels, box)
        height, width = last["imageSize"]
        assert masks.shape[1:] == (height, width)
        for k in range(3):
            page = rle_decode(last["masks"][k]["rle"], height * width).reshape(height, width)
            union = int((page | masks[k]).sum())
            mask_iou = float((page & masks[k]).sum() / union) if union else 1.0
            rows.append(
                {
                    "prompt": prompt,
                    "mask": k,
                    "mask_iou": mask_iou,
                    "pixels_differing": int((page != masks[k]).sum()),
                    "page_iou_prediction": last["iou"][k],
                    "python_iou_prediction": float(iou[k]),
                    "area": int(masks[k].sum()),
                }
            )
            assert last["masks"][k]["area"] == int(page.sum())
    return rows


def check_against_python(report: dict, bundle: Path, photo: Path) -> list[dict]:
    predictions = [s["result"]["last"] for s in report["steps"] if s["type"] in ("click", "drag")]
    assert predictions and all(p is not None for p in predictions)
    rows = compare_with_predictor(bundle, photo, predictions)
    for row in rows:
        print(
            f"mask {row['mask']} of {row['prompt']}: mask IoU {row['mask_iou']:.6f} "
            f"({row['pixels_differing']} px differ), predicted IoU page {row['page_iou_prediction']:.6f} "
            f"python {row['python_iou_prediction']:.6f}"
        )
    bad = [r for r in rows if r["mask_iou"] < MIN_MASK_IOU]
    assert not bad, bad
    bad = [r for r in rows if abs(r["page_iou_prediction"] - r["python_iou_prediction"]) > MAX_IOU_DELTA]
    assert not bad, bad
    return rows


# segment everything on the untrained tiny model: no NMS and a low tau, so that the hierarchical
# strategy keeps ~100 masks over both rounds and skips some dense points
EVERYTHING = {
    "strategy": "hierarchical",
    "pointsPerSide": 6,
    "sparsePointsPerSide": 3,
    "predIouThresh": -1,
    "stabilityScoreThresh": 0,
    "highScoreThresh": 0.03,
    "boxNmsThresh": 1,
}
PYTHON_NAMES = {
    "strategy": None,
    "pointsPerSide": "points_per_side",
    "sparsePointsPerSide": "sparse_points_per_side",
    "predIouThresh": "pred_iou_thresh",
    "stabilityScoreThresh": "stability_score_thresh",
    "highScoreThresh": "high_score_thresh",
    "boxNmsThresh": "box_nms_thresh",
}


def check_everything_against_python(result: dict, bundle: Path, pixels: np.ndarray) -> None:
    """The worker's segment-everything against AutoMaskGenerator on the same bundle and photo."""
    from tinysam_mobile.automatic_mask_generator import AutoMaskGenerator, EverythingConfig
    from tinysam_mobile.predictor import Predictor

    options = result["options"]
    config = EverythingConfig(**{PYTHON_NAMES[k]: v for k, v in options.items() if PYTHON_NAMES[k]})
    python = AutoMaskGenerator(Predictor.from_bundle(bundle), config, strategy=options["strategy"])
    records = python.generate(pixels)
    print(
        f"everything: page {result['count']} masks from {result['promptsDecoded']} prompts "
        f"({result['pointsSkipped']} skipped) in {result['ms'] / 1000:.1f} s; python {len(records)} masks "
        f"from {records.points_decoded} prompts ({records.points_skipped} skipped)"
    )
    assert (result["promptsDecoded"], result["pointsSkipped"]) == (
        records.points_decoded,
        records.points_skipped,
    )
    assert result["count"] == len(records) > 0
    height, width = pixels.shape[:2]
    for page, ours in zip(result["records"], records, strict=True):
        assert page["stage"] == ours["stage"]
        assert np.allclose(page["point"], ours["point_coords"][0])
        assert abs(page["predictedIou"] - ours["predicted_iou"]) <= MAX_IOU_DELTA
        assert abs(page["stability"] - ours["stability_score"]) <= 1e-3
        assert abs(page["area"] - ours["area"]) <= 0.01 * ours["area"]
        assert np.abs(np.array(page["bbox"]) - ours["bbox"]).max() <= 2
        if "rle" in page:
            mask = rle_decode(page["rle"], height * width).reshape(height, width)
            union = (mask | ours["segmentation"]).sum()
            assert (mask & ours["segmentation"]).sum() / union >= MIN_MASK_IOU


def keep_screenshot(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 10_000, "the screenshot was not written"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot of the page with its mask: {path}")
    reports = os.environ.get("TINYSAM_TEST_REPORTS")
    if reports:
        Path(reports).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(reports) / path.name)
        print(f"copied to {Path(reports) / path.name}")


def page_steps(width: int, height: int) -> list[dict]:
    """A foreground click, a background point, then a box around both (photo pixels)."""
    fg = {"type": "click", "x": round(0.45 * width), "y": round(0.4 * height)}
    bg = {"type": "click", "x": round(0.8 * width), "y": round(0.75 * height), "background": True}
    drag = {"type": "drag", "from": [0.2 * width, 0.15 * height], "to": [0.9 * width, 0.85 * height]}
    return [{"type": "rgb-digest"}, fg, bg, drag]


def test_page_segments_everything_like_the_python_generator(browser_setup, tiny_bundle_factory, tmp_path):
    """Segment everything in the page's worker (hierarchical, both rounds) against
    AutoMaskGenerator: the same prompts decoded and skipped, the same masks kept, in order."""
    from tinysam_mobile.images import load_image

    bundle = tiny_bundle_factory("tflite")
    steps = [{"type": "everything", "options": EVERYTHING, "keepMasks": 3}]
    screenshot = tmp_path / "web_demo_everything.png"
    with serving(bundle) as url:
        report = run_page(url, steps, tmp_path, screenshot)
    result = report["steps"][0]["result"]
    assert not result["running"] and result["strategy"] == "hierarchical"
    check_everything_against_python(result, bundle, load_image(PHOTO, reduce=False).pixels)
    keep_screenshot(screenshot)


def test_page_masks_match_the_python_predictor(browser_setup, tiny_bundle_factory, tmp_path):
    """Tiny LiteRT bundle: clicks and a drag in Chromium; every mask and predicted IoU the page
    shows agrees with Predictor.from_bundle on the same photo and prompts."""
    from tinysam_mobile.images import load_image

    bundle = tiny_bundle_factory("tflite")
    pixels = load_image(PHOTO, reduce=False).pixels
    height, width = pixels.shape[:2]
    screenshot = tmp_path / "web_demo.png"
    with serving(bundle) as url:
        report = run_page(url, page_steps(width, height), tmp_path, screenshot)
    assert report["image"] == {"name": PHOTO.name, "width": width, "height": height}
    assert report["bundle"]["target"] == "tflite" and report["bundle"]["maxPoints"] == 4
    runtime = report["runtime"]
    print(f"runtime: {runtime}; timings: {report['timings']}")
    assert runtime["crossOriginIsolated"] and runtime["threads"] >= 1
    digest = report["steps"][0]["result"]
    same_pixels = digest == hashlib.sha256(pixels.tobytes()).hexdigest()
    print(f"the page decodes {PHOTO.name} to {'the same' if same_pixels else 'different'} RGB bytes as PIL")
    check_against_python(report, bundle, PHOTO)
    last = report["steps"][-1]["result"]["last"]
    assert last["prompt"]["labels"] == [1, 0] and last["prompt"]["box"] is not None
    assert report["timings"]["encodeMs"] > 0 and report["timings"]["decodeMs"] > 0
    keep_screenshot(screenshot)


def test_page_refuses_a_bundle_it_cannot_run(browser_setup, tiny_bundle_factory, tmp_path):
    """Bundles picked from disk: an ExecuTorch manifest and a LiteRT bundle whose decoder is not
    the one its manifest lists are refused with a message on the page; the page keeps working."""
    executorch = tmp_path / "executorch"
    executorch.mkdir()
    shutil.copy(GOLDEN / "manifest_executorch.json", executorch / "manifest.json")
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_bundle_factory("tflite"), tampered)
    program = bytearray((tampered / "decoder.tflite").read_bytes())
    program[-1] ^= 0xFF
    (tampered / "decoder.tflite").write_bytes(bytes(program))
    steps = [
        {"type": "click", "x": 300, "y": 300},
        {"type": "pick-bundle", "files": [str(executorch / "manifest.json")]},
        {"type": "pick-bundle", "files": [str(tampered / n) for n in TFLITE_FILES]},
        {"type": "state"},
    ]
    screenshot = tmp_path / "web_demo_refusal.png"
    with serving(tiny_bundle_factory("tflite")) as url:
        report = run_page(url, steps, tmp_path, screenshot)
    click, refused, mismatched, after = (s["result"] for s in report["steps"])
    for result in (refused, mismatched):
        assert result["bannerVisible"], result
        assert result["bannerText"] == result["error"]
    assert refused["error"].startswith("Cannot open this bundle: this is a 'executorch' bundle;")
    assert "the web demo runs LiteRT bundles (target 'tflite') only" in refused["error"]
    assert "convert one with python -m tinysam_mobile.convert --target tflite" in refused["error"]
    assert mismatched["error"] == (
        "Cannot open this bundle: decoder.tflite (decoder) does not match its sha256 in manifest.json"
    )
    assert click["last"] is not None and len(click["last"]["iou"]) == 3
    assert after["state"] == "ready" and after["bundle"] == report["bundle"], "the served bundle stays open"
    keep_screenshot(screenshot)


@pytest.mark.slow
def test_full_size_page_masks_match_the_python_predictor(browser_setup, tmp_path_factory, full_model):
    """The full-size TinySAM (untrained weights) as a fp32 LiteRT bundle: the same comparison."""
    from tinysam_mobile.images import load_image
    from tinysam_mobile.toolchain.build import build_bundle

    bundle = tmp_path_factory.mktemp("web-full") / "bundle"
    build_bundle(full_model, "tflite", "fp32", bundle, max_points=4, parity=False, progress=lambda _: None)
    pixels = load_image(PHOTO, reduce=False).pixels
    height, width = pixels.shape[:2]
    tmp_path = tmp_path_factory.mktemp("web-full-page")
    screenshot = tmp_path / "web_demo_full.png"
    with serving(bundle) as url:
        report = run_page(url, page_steps(width, height)[1:], tmp_path, screenshot)
    print(f"runtime: {report['runtime']}; timings: {report['timings']}")
    assert report["bundle"]["embeddings"] == [1, 256, 64, 64]
    check_against_python(report, bundle, PHOTO)
    keep_screenshot(screenshot)
