"""The parity suite: every target x recipe, converted, run on its real runtime, vs the float model.

Each bundle is built once per session by the same ``build_bundle`` the CLI uses, which runs the
parity check against the recipe's contract and writes parity.json / parity.png. The tiny config
runs the same code paths; exact recipes (fp32) run in the fast tier, quantized ones and the
full-size model in the ``slow`` tier. The tiny config has untrained weights, which the recipes'
quality contracts cannot judge, so its measured summaries are held against regression baselines
recorded here (``baselines.json``; ``TINYSAM_RECORD_BASELINES=1`` rewrites them from a run). The
full size is the shipped trained model (``tinysam-synthetic``), judged by every recipe's contract.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tinysam_mobile.bundle.manifest import read_manifest
from tinysam_mobile.targets import TARGETS
from tinysam_mobile.toolchain.build import ParityFailure, build_bundle
from tinysam_mobile.toolchain.converters import get_backend
from tinysam_mobile.toolchain.recipes import list_recipes

CASES = [(t, r) for t in sorted(TARGETS) for r in list_recipes(t)]
EXACT = [(t, r) for t, r in CASES if r == "fp32"]
# ExecuTorch's w8a8 is checked at full size only (its tiny lowering alone took ~170 s of CI).
QUANTIZED = [(t, r) for t, r in CASES if r != "fp32" and (t, r) != ("executorch", "w8a8")]
# Full size, Core AI's Linux runtime computes fp16 programs on slow reference kernels (one
# full-size fp16 encoder call took ~30 CPU-minutes here): CI runs its fp32 recipe; the others,
# which all compute in fp16, run with --nightly.
NIGHTLY_FULL_SIZE = {("coreai", r) for r in list_recipes("coreai") if r != "fp32"}
# Recipes that fail their own quality contract on the trained model, measured (benchmarks/RESULTS.md):
# the test fails the day one passes, so the mark is removed with the fix.
FAILS_ITS_CONTRACT = {
    **{
        (target, "w8a8"): "int8 activations: encoder embedding cosine 0.92-0.99, decoder masks move "
        "(mean mask IoU 0.71-0.79 against the float model, bound 0.9)"
        for target in ("coreml", "executorch", "tflite")
    },
    ("coreml", "palette6_fp16"): "per-tensor encoder palettes (iOS 17): IoU prediction moves 0.069 "
    "on picture1.jpg (bound 0.05)",
    ("coreml", "palette4_fp16"): "per-tensor encoder palettes (iOS 17): mean mask IoU 0.834 (bound 0.85)",
}


# their XNNPACK lowering alone takes 30-90 s even for the tiny config: kept out of the fast tier
SLOW_LOWERING = {"executorch", "tflite"}


def _exact(cases) -> list:
    """``cases`` with the slow-to-lower targets marked ``slow``."""
    return [pytest.param(*c, marks=pytest.mark.slow) if c[0] in SLOW_LOWERING else c for c in cases]


def _full_size(cases) -> list:
    """``cases`` with the nightly ones and those known to fail their contract marked."""

    def marks(case) -> list:
        found = [pytest.mark.nightly] if case in NIGHTLY_FULL_SIZE else []
        if case in FAILS_ITS_CONTRACT:
            reason = FAILS_ITS_CONTRACT[case]
            found.append(pytest.mark.xfail(raises=ParityFailure, strict=True, reason=reason))
        return found

    return [pytest.param(*c, marks=marks(c)) for c in cases]


BASELINES = Path(__file__).with_name("baselines.json")
# How much worse than its baseline a metric may be (untrained weights; int8 kernels round
# differently per CPU): (relative, absolute) slack.
SLACK = {
    "max_logit_abs": (0.5, 0.005),
    "min_logit_cosine": (0.0, 0.002),
    "min_mask_iou": (0.0, 0.08),
    "mean_mask_iou": (0.0, 0.03),
    "max_iou_delta": (0.5, 0.005),
    "mean_best_mask_agreement": (0.0, 0.2),
    "min_embedding_cosine": (0.0, 0.001),
}
LARGER_IS_BETTER = {
    "min_logit_cosine",
    "min_mask_iou",
    "mean_mask_iou",
    "mean_best_mask_agreement",
    "min_embedding_cosine",
}
_built: dict[tuple[str, str, str], object] = {}


def _bundle(tmp_path_factory, model, target: str, recipe: str):
    key = (model.config.name, target, recipe)
    if key not in _built:
        out = tmp_path_factory.mktemp("bundles") / f"{key[0]}-{target}-{recipe}"
        try:
            _built[key] = build_bundle(model, target, recipe, out, max_points=8, num_threads=2)
        except ParityFailure as failure:  # built once: every test of this bundle sees the failure
            _built[key] = failure
    if isinstance(_built[key], ParityFailure):
        raise _built[key]
    return _built[key]


def _check_baseline(result, config: str, target: str, recipe: str) -> None:
    """The summary is no worse than this suite's recorded one (beyond :data:`SLACK`)."""
    summary = result.report.summary
    baselines = json.loads(BASELINES.read_text()) if BASELINES.exists() else {}
    key = f"{target}/{recipe}"
    if os.environ.get("TINYSAM_RECORD_BASELINES"):
        baselines.setdefault(config, {})[key] = {k: round(v, 6) for k, v in summary.items()}
        BASELINES.write_text(json.dumps(baselines, indent=1, sort_keys=True) + "\n")
        return
    recorded = baselines.get(config, {}).get(key)
    assert recorded is not None, f"no baseline for {config} {key}: run with TINYSAM_RECORD_BASELINES=1"
    worse = []
    for metric, (relative, absolute) in SLACK.items():
        value, base = summary[metric], recorded[metric]
        if metric in LARGER_IS_BETTER:
            ok = value >= base * (1 - relative) - absolute
        else:
            ok = value <= base * (1 + relative) + absolute
        if not ok:
            worse.append(f"{metric} {value:.6g} (baseline {base:.6g})")
    assert not worse, f"{config} {key} regressed: {', '.join(worse)}"


def _recipe(target: str, recipe: str):
    return get_backend(target).load_recipe(recipe)


def _check_tflite_programs(result, recipe: str) -> None:
    """Stock LiteRT runs them (no custom / Flex ops) and the recipe's scheme is in the file:
    int8 activations exactly on the recipe's ops, and weights stored in the scheme's dtype."""
    from tinysam_mobile.toolchain.converters.tflite import constant_bytes, op_inventory

    for program in ("encoder", "decoder"):
        plan = _recipe("tflite", recipe).program(program)
        ops = op_inventory(result.bundle_dir / f"{program}.tflite")
        assert not [name for name in ops if name.startswith("CUSTOM")], ops
        int8 = {name.split(":")[0] for name in ops if name.endswith(":INT8")}
        if plan.scheme == "w8a8":
            assert int8 - {"QUANTIZE", "DEQUANTIZE"} == set(plan.options["static_int8_ops"]), int8
            assert ops["BATCH_MATMUL:FLOAT32"] > 0
        else:
            assert not int8, f"{recipe} has int8 activations: {int8}"
        constants = constant_bytes(result.bundle_dir / f"{program}.tflite")
        stored = {"fp32": set(), "fp16_weights": {"FLOAT16"}, "w8_dynamic": {"INT8"}, "w8a8": {"INT8"}}
        assert {t for t in ("FLOAT16", "INT8") if constants[t] > 0} == stored[plan.scheme], constants


def _check_coreml_packages(result, recipe: str) -> None:
    """iOS 17 ML Programs with float32 I/O as the manifest says, each computing in its scheme's
    dtype (a recipe's scheme is per program), with the scheme's compression actually in it."""
    from tinysam_mobile.toolchain.converters.coreml import package_inventory

    manifest = result.manifest  # _check verifies the hashes once
    sizes = {}
    for program in ("encoder", "decoder"):
        scheme = _recipe("coreml", recipe).program(program).scheme
        inventory = package_inventory(result.bundle_dir / f"{program}.mlpackage")
        sizes[program] = inventory["bytes"]
        assert inventory["specification_version"] == 8  # iOS 17
        for role in ("inputs", "outputs"):
            expected = {
                s["name"]: (tuple(s["shape"]), "FLOAT32") for s in manifest["io"][f"{program}_{role}"]
            }
            assert inventory[role] == expected, (program, role)
        ops, compute = inventory["ops"], inventory["compute_dtypes"]
        assert set(compute) - {"fp32"} == (
            set() if scheme == "fp32" else {"fp16", "int8"} if scheme == "w8a8" else {"fp16"}
        )
        if scheme != "fp32":  # only the few ops the fp16 safety check kept in float32
            assert compute.get("fp32", 0) <= 16, compute
        assert (ops["quantize"] > 0) == (scheme == "w8a8")
        weights_int8 = scheme in ("w8_fp16", "w8a8")
        assert inventory["quantized_weight_dtypes"] == (["int8"] if weights_int8 else [])
        assert (ops["constexpr_affine_dequantize"] > 0) == weights_int8
        palette = {"palette4_fp16": [16], "palette6_fp16": [64]}.get(scheme, [])
        assert inventory["palette_sizes"] == palette
        assert "gather" not in ops  # TinyViT's attention-bias table is a constant, not a gather
    assert {k: v["bytes"] for k, v in manifest["artifacts"].items()} == sizes


def _check_coreai_assets(result, recipe: str) -> None:
    """Core AI assets with one function, float32 I/O as the manifest says, stamped with their
    program and scheme, computing in fp16 unless fp32, with the recipe's weight compression
    actually in the program (int8 data and dequantize ops, 4 / 6-bit palette indices and lookups)."""
    from tinysam_mobile.toolchain.converters.coreai import asset_inventory

    manifest = result.manifest  # _check verifies the hashes once
    sizes = {}
    for program in ("encoder", "decoder"):
        scheme = _recipe("coreai", recipe).program(program).scheme
        inventory = asset_inventory(result.bundle_dir / f"{program}.aimodel")
        sizes[program] = inventory["bytes"]
        assert inventory["functions"] == ["main"]
        for role in ("inputs", "outputs"):
            expected = {
                s["name"]: (tuple(s["shape"]), "float32") for s in manifest["io"][f"{program}_{role}"]
            }
            assert inventory[role] == expected, (program, role)
        assert inventory["metadata"] == {"tinysam.program": program, "tinysam.scheme": scheme}
        storage, ops = inventory["storage_types"], inventory["ops"]
        assert ("Float16" in inventory["compute_types"]) == (scheme != "fp32")
        assert ("Float16" in storage) == (scheme != "fp32")
        if scheme != "fp32":
            assert storage.get("Float32", 0) < 16, storage  # no float32 weights left
        assert ("Int8" in storage) == (ops["blockwise_shift_scale"] > 0) == (scheme == "w8_fp16"), storage
        assert (ops["lut_to_dense"] > 0) == scheme.startswith("palette"), ops
        palettes = {"palette4_fp16": {"UInt4"}, "palette6_fp16": {"UInt6"}}
        assert {t for t in ("UInt4", "UInt6") if t in storage} == palettes.get(scheme, set()), storage
    assert {k: v["bytes"] for k, v in manifest["artifacts"].items()} == sizes


ARTIFACT_CHECKS = {
    "coreai": _check_coreai_assets,
    "coreml": _check_coreml_packages,
    "tflite": _check_tflite_programs,
}


def _check_prompt_batches(result, target: str) -> None:
    """The artifact answers prompts decoded together (up to the target's batch per call) as it
    answers each alone."""
    from tinysam_mobile.bundle import open_bundle
    from tinysam_mobile.prompts import PromptBatch, pack_prompt

    runtime = open_bundle(result.bundle_dir, num_threads=2)
    assert (
        runtime.decoder_batch == get_backend(target).decoder_batch == result.manifest["io"]["decoder_batch"]
    )
    rng = np.random.default_rng(3)
    packed = [pack_prompt(rng.uniform(0, 1000, (1, 2)), np.ones(1), None) for _ in range(5)]
    prompts = PromptBatch(np.stack([c for c, _ in packed]), np.stack([lab for _, lab in packed]))
    embeddings = rng.normal(size=(1, *result.manifest["io"]["encoder_outputs"][0]["shape"][1:]))
    together = runtime.decode(embeddings.astype(np.float32), prompts)
    for i in range(prompts.batch):
        alone = runtime.decode(embeddings.astype(np.float32), prompts.rows(i, i + 1))
        np.testing.assert_allclose(together[0][i : i + 1], alone[0], atol=1e-3)
        np.testing.assert_allclose(together[1][i : i + 1], alone[1], atol=1e-3)


def _check(result, target: str, recipe: str, judged: bool) -> None:
    """The artifact's checks, a passing parity report (judged by the recipe's contract when
    ``judged``) and a manifest that records it."""
    if target in ARTIFACT_CHECKS:
        ARTIFACT_CHECKS[target](result, recipe)
    _check_prompt_batches(result, target)
    report = result.report
    assert report is not None and not report.failures, report.failures
    assert report.judged == judged, (report.judged, judged)
    if result.manifest["model"]["config"] == "tiny-test":
        _check_baseline(result, "tiny-test", target, recipe)
    manifest = read_manifest(result.bundle_dir)  # checks schema version and hashes
    saved = json.loads((result.bundle_dir / "parity" / "parity.json").read_text())
    assert saved["passed"] and saved["summary"] == pytest.approx(report.summary)
    assert manifest["parity"]["judged"] == report.judged


@pytest.mark.parametrize("target,recipe", _exact(EXACT))
def test_parity_tiny_exact(tmp_path_factory, tiny_model, target, recipe):
    _check(_bundle(tmp_path_factory, tiny_model, target, recipe), target, recipe, judged=True)


@pytest.mark.slow
@pytest.mark.parametrize("target,recipe", QUANTIZED)
def test_parity_tiny_quantized(tmp_path_factory, tiny_model, target, recipe):
    untrained_judged = _recipe(target, recipe).parity.judge == "always"  # quality needs training
    _check(_bundle(tmp_path_factory, tiny_model, target, recipe), target, recipe, judged=untrained_judged)


@pytest.mark.slow
@pytest.mark.parametrize("target,recipe", _full_size(CASES))
def test_parity_full_size(tmp_path_factory, synthetic_model, target, recipe):
    """Every recipe converts the trained model and passes its own quality contract (no silent
    pass: the report must be judged)."""
    _check(_bundle(tmp_path_factory, synthetic_model, target, recipe), target, recipe, judged=True)


# Largest bundle size of each compressed recipe relative to the target's fp32 bundle, measured at
# full size on tinysam-synthetic (Core ML fp16 / w8_fp16 / w8a8 / palette6 / palette4: 0.508 / 0.362
# / 0.263 / 0.325 / 0.290; Core AI w8_fp16 / palette6 / palette4: 0.393 / 0.368 / 0.338, checked
# nightly). The compressing recipes keep the decoder's weights in float16. The tiny config keeps
# most of its small weight tensors uncompressed, so there each recipe only has to be smaller than
# fp32.
SIZE_RATIO = {
    ("coreml", "fp16"): 0.52,
    ("coreml", "w8_fp16"): 0.37,
    ("coreml", "w8a8"): 0.28,
    ("coreml", "palette6_fp16"): 0.33,
    ("coreml", "palette4_fp16"): 0.30,
    ("coreai", "fp16"): 0.51,
    ("coreai", "w8_fp16"): 0.40,
    ("coreai", "palette6_fp16"): 0.38,
    ("coreai", "palette4_fp16"): 0.35,
}


def _bundle_bytes(result) -> int:
    return sum(a["bytes"] for a in result.manifest["artifacts"].values())


@pytest.mark.slow
@pytest.mark.parametrize("target,recipe", _full_size(SIZE_RATIO))
def test_compression_shrinks_the_bundles(tmp_path_factory, synthetic_model, target, recipe):
    fp32 = _bundle_bytes(_bundle(tmp_path_factory, synthetic_model, target, "fp32"))
    ratio = _bundle_bytes(_bundle(tmp_path_factory, synthetic_model, target, recipe)) / fp32
    assert ratio <= SIZE_RATIO[target, recipe], ratio


@pytest.mark.slow
@pytest.mark.parametrize("target", ["coreai", "coreml"])
def test_compression_shrinks_the_tiny_bundles(tmp_path_factory, tiny_model, target):
    recipes = ("fp32", "fp16", "w8_fp16")
    sizes = {r: _bundle_bytes(_bundle(tmp_path_factory, tiny_model, target, r)) for r in recipes}
    assert sizes["w8_fp16"] < sizes["fp16"] < 0.7 * sizes["fp32"], sizes


def test_parity_detects_a_broken_artifact(tiny_model):
    """The metrics are not blind: a runtime with a perturbed decoder fails the fp32 bounds."""
    from tinysam_mobile.assets import bundled_photos
    from tinysam_mobile.runtimes import TorchRuntime
    from tinysam_mobile.toolchain.parity import run_parity
    from tinysam_mobile.toolchain.recipes import Thresholds

    class Shifted(TorchRuntime):
        name = "shifted"

        def decode(self, embeddings, prompts):
            low, iou = super().decode(embeddings, prompts)
            return np.roll(low, 3, axis=-1), iou + 0.01

    report = run_parity(
        TorchRuntime(tiny_model), Shifted(tiny_model, 8), bundled_photos()[:1], thresholds=Thresholds()
    )
    failed = " ".join(report.failures)
    assert "max_logit_abs" in failed and "max_iou_delta" in failed and "min_mask_iou" in failed


class _LeakingSlots:
    """A real artifact fed v1-style prompts: unused slots relabelled as attending -1 tokens."""

    def __init__(self, runtime) -> None:
        self.runtime, self.name, self.max_points = runtime, f"{runtime.name}-v1-padding", None
        self.slots = runtime.max_points

    def encode(self, image):
        return self.runtime.encode(image)

    def decode(self, embeddings, prompts):
        from tinysam_mobile.contract import LABEL_NOT_A_POINT, LABEL_UNUSED
        from tinysam_mobile.prompts import PromptBatch

        padded = prompts.padded_to(self.slots)
        labels = np.where(padded.labels == LABEL_UNUSED, LABEL_NOT_A_POINT, padded.labels).astype(np.float32)
        return self.runtime.decode(embeddings, PromptBatch(padded.coords, labels, padded.mask_input))


def test_parity_fails_an_artifact_whose_extra_slots_attend(tmp_path_factory, tiny_model):
    """The suite compares against the unpadded official semantics: the same fp32 artifact passes
    with unused slots and fails when its extra slots are -1 tokens (the v1 decoder contract)."""
    from tinysam_mobile.assets import bundled_photos
    from tinysam_mobile.bundle import open_bundle
    from tinysam_mobile.runtimes import TorchRuntime
    from tinysam_mobile.toolchain.parity import run_parity
    from tinysam_mobile.toolchain.recipes import Thresholds

    result = _bundle(tmp_path_factory, tiny_model, "coreml", "fp32")  # built by the fast tier already
    artifact = open_bundle(result.bundle_dir, num_threads=2)
    photos = bundled_photos()[:1]
    good = run_parity(TorchRuntime(tiny_model), artifact, photos, thresholds=Thresholds())
    leaking = run_parity(TorchRuntime(tiny_model), _LeakingSlots(artifact), photos, thresholds=Thresholds())
    assert not good.failures, good.failures
    assert any(f.startswith("max_logit_abs") for f in leaking.failures), leaking.summary


def test_slot_count_does_not_change_the_answer(tmp_path_factory, tiny_model):
    """A 2-slot and an 8-slot program give the same masks for the same one-point prompt (Core ML:
    the cheapest programs to build; the masking is the same decoder program on every target)."""
    from tests.conftest import load_photo
    from tinysam_mobile.bundle import open_bundle
    from tinysam_mobile.predictor import Predictor
    from tinysam_mobile.toolchain.build import build_bundle

    eight = _bundle(tmp_path_factory, tiny_model, "coreml", "fp32").bundle_dir
    two = build_bundle(
        tiny_model, "coreml", "fp32", tmp_path_factory.mktemp("two") / "b", max_points=2, parity=False
    ).bundle_dir
    image = load_photo("picture2.jpg")
    answers = []
    for bundle in (two, eight):
        predictor = Predictor(open_bundle(bundle, num_threads=2))
        predictor.set_image(image)
        answers.append(predictor.predict(point_coords=np.array([[300, 200]]), point_labels=np.array([1])))
    (masks2, iou2, low2), (masks8, iou8, low8) = answers
    assert open_bundle(two).max_points == 2
    np.testing.assert_allclose(low2, low8, atol=1e-5)
    np.testing.assert_allclose(iou2, iou8, atol=1e-5)
    assert (masks2 == masks8).mean() > 0.9999
