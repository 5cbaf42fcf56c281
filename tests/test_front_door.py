"""The front door: a segment-anything user's code runs unchanged; the package imports light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinysam_mobile
from tests.conftest import load_photo
from tinysam_mobile import (
    Predictor,
    SamAutomaticMaskGenerator,
    SamPredictor,
    build_sam,
    sam_model_registry,
)
from tinysam_mobile.checkpoints import LoadedCheckpoint
from tinysam_mobile.toolchain.build import as_loaded


def test_import_is_light_and_versioned():
    code = "import sys, tinysam_mobile; print(tinysam_mobile.__version__); print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == tinysam_mobile.__version__ != "0+unknown" and out[1] == "False"
    assert set(tinysam_mobile.__all__) <= set(dir(tinysam_mobile))


@pytest.mark.slow
def test_sam_users_code_runs_unchanged(full_checkpoint):
    """segment-anything's README, with our import."""
    sam = sam_model_registry["vit_t"](checkpoint=str(full_checkpoint))
    assert not sam.untrained
    predictor = SamPredictor(sam)
    image = load_photo("picture1.jpg")
    predictor.set_image(image)
    masks, scores, logits = predictor.predict(
        point_coords=np.array([[380, 300]]), point_labels=np.array([1]), multimask_output=True
    )
    assert masks.shape == (3, *image.shape[:2]) and scores.shape == (3,) and logits.shape == (3, 256, 256)
    generator = SamAutomaticMaskGenerator(
        sam, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    records = generator.generate(image)
    assert isinstance(records, list) and records.strategy == "hierarchical" and records.points_decoded > 0
    for record in records:
        assert record["segmentation"].shape == image.shape[:2] and record["bbox"]


def test_sam_crop_options_are_refused_unless_default(tiny_model):
    SamAutomaticMaskGenerator(tiny_model, crop_n_layers=0)
    try:
        SamAutomaticMaskGenerator(tiny_model, crop_n_layers=1)
    except ValueError as exc:
        assert "crops are not supported" in str(exc)
    else:
        raise AssertionError("crop_n_layers=1 was accepted")


def test_from_pretrained_and_build_sam_take_paths(full_checkpoint):
    predictor = Predictor.from_pretrained(full_checkpoint)
    assert predictor.runtime.name == "torch"
    assert build_sam(None).untrained and not build_sam(full_checkpoint).untrained


def test_build_bundle_takes_a_spec_a_model_or_a_loaded_checkpoint(tiny_model):
    assert as_loaded(tiny_model).untrained and as_loaded(tiny_model).model is tiny_model
    loaded = LoadedCheckpoint.of(tiny_model)
    assert as_loaded(loaded) is loaded
    spec = as_loaded("untrained:3")
    assert spec.untrained and spec.source == "untrained:3"
