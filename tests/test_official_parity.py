"""Predictor vs the official code path (tests/official_reference.py) on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_photo
from tests.official_reference import official_predict
from tinysam_mobile.predictor import Predictor

# (photo, prompt kwargs in original pixels) covering every prompt kind of the contract
CASES = {
    "point": ("picture1.jpg", dict(point_coords=[[380, 300]], point_labels=[1])),
    "multi_point": (
        "picture2.jpg",
        dict(point_coords=[[200, 250], [500, 420], [90, 700]], point_labels=[1, 1, 0]),
    ),
    "box": ("picture3.jpg", dict(box=[600, 400, 2100, 2000])),
    "box_point": (
        "picture1.jpg",
        dict(box=[120, 90, 640, 700], point_coords=[[380, 300]], point_labels=[1]),
    ),
    "mask_input": (
        "picture2.jpg",
        dict(point_coords=[[300, 300]], point_labels=[1], mask_input=True),
    ),
}


def _compare(model, case: str, atol: float) -> None:
    name, prompt = CASES[case]
    image = load_photo(name)
    prompt = dict(prompt)
    if prompt.pop("mask_input", None):
        prompt["mask_input"] = official_predict(model, image, **prompt)["low_res"][:1] * 5.0
    ref = official_predict(model, image, **prompt)
    predictor = Predictor(model)
    predictor.set_image(image)
    logits, iou, low = predictor.predict(**prompt, return_logits=True)
    masks, _, _ = predictor.predict(**prompt)
    np.testing.assert_allclose(predictor.get_image_embedding(), ref["embeddings"], atol=atol)
    np.testing.assert_allclose(low, ref["low_res"], atol=atol)
    np.testing.assert_allclose(iou, ref["iou"], atol=atol)
    np.testing.assert_allclose(logits, ref["logits"], atol=atol)
    assert (masks == (ref["logits"] > 0)).mean() > 0.9999
    assert masks.shape == (3, *image.shape[:2])


@pytest.mark.parametrize("case", CASES)
def test_matches_official_tiny(tiny_model, case):
    _compare(tiny_model, case, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_matches_official_full_size(full_model, case):
    _compare(full_model, case, atol=1e-4)
