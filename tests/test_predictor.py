"""Predictor behaviour: shapes, determinism, modes, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tinysam_mobile.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_model, photo):
    p = Predictor(tiny_model)
    p.set_image(photo)
    return p


def test_shapes_and_types(predictor, photo):
    masks, iou, low = predictor.predict(np.array([[300, 200]]), np.array([1]))
    assert masks.shape == (3, *photo.shape[:2]) and masks.dtype == bool
    assert iou.shape == (3,) and low.shape == (3, 256, 256)
    assert predictor.get_image_embedding().shape == (1, 32, 64, 64)


def test_deterministic(tiny_model, photo, predictor):
    other = Predictor(tiny_model)
    other.set_image(Image.fromarray(photo))
    a = predictor.predict(box=np.array([10, 20, 300, 400]))
    b = other.predict(box=np.array([10, 20, 300, 400]))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_single_mask_is_best_by_iou(predictor):
    points, labels = np.array([[300, 200], [100, 600]]), np.array([1, 0])
    masks, iou, low = predictor.predict(points, labels, return_logits=True)
    one, one_iou, one_low = predictor.predict(points, labels, multimask_output=False, return_logits=True)
    best = int(np.argmax(iou))
    assert one.shape[0] == 1 and one_iou[0] == iou[best]
    np.testing.assert_array_equal(one[0], masks[best])
    np.testing.assert_array_equal(one_low[0], low[best])


def test_mask_input_changes_result(predictor):
    points, labels = np.array([[300, 200]]), np.array([1])
    _, _, low = predictor.predict(points, labels)
    _, _, refined = predictor.predict(points, labels, mask_input=low[:1] * 10)
    assert not np.allclose(low, refined)


def test_bgr_input_is_flipped(tiny_model, photo, predictor):
    other = Predictor(tiny_model)
    other.set_image(np.ascontiguousarray(photo[..., ::-1]), image_format="BGR")
    np.testing.assert_array_equal(other.get_image_embedding(), predictor.get_image_embedding())


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(point_coords=[[1, 2]]), "given together"),
        (dict(point_coords=[1, 2], point_labels=[1]), "K x 2"),
        (dict(point_coords=[[1, 2]], point_labels=[1, 0]), "1 points but 2 labels"),
        (dict(point_coords=[[1, 2]], point_labels=[2]), "1 \\(foreground\\) or 0"),
        (dict(box=[1, 2, 3]), "box must be 4 values"),
        (
            dict(box=[1, 2, 3, 4], mask_input=np.zeros((256, 256))),
            "mask_input must be 1 x 256 x 256",
        ),
    ],
)
def test_bad_prompts(predictor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict(**kwargs)


def test_predict_before_set_image(tiny_model):
    predictor = Predictor(tiny_model)
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(box=[0, 0, 5, 5])
    predictor.set_image(np.zeros((8, 8, 3), np.uint8))
    predictor.reset_image()
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.get_image_embedding()
