"""Stability, boxes, NMS and small-region removal."""

import numpy as np
import pytest

from tinysam_mobile import mask_ops


def test_stability_is_the_area_ratio_around_the_threshold():
    logits = np.array([[[-2.0, -0.5, 0.5, 2.0]], [[-5.0, -5.0, -5.0, -5.0]]], np.float32)
    np.testing.assert_allclose(mask_ops.stability_scores(logits), [1 / 3, 0.0])
    assert mask_ops.stability_scores(np.zeros((0, 4, 4), np.float32)).shape == (0,)


def test_boxes_match_a_brute_force_scan():
    rng = np.random.default_rng(0)
    masks = rng.random((6, 9, 11)) < 0.05
    masks[0] = False
    boxes = mask_ops.masks_to_boxes(masks)
    np.testing.assert_array_equal(boxes[0], [0, 0, 0, 0])
    for mask, box in zip(masks[1:], boxes[1:], strict=True):
        ys, xs = np.nonzero(mask)
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max(), ys.max()])


def test_box_iou():
    a = np.array([[0, 0, 2, 2]], float)
    b = np.array([[1, 1, 3, 3], [5, 5, 6, 6], [0, 0, 2, 2]], float)
    np.testing.assert_allclose(mask_ops.box_iou(a, b), [[1 / 7, 0.0, 1.0]])


def test_nms_keeps_priority_order_and_drops_overlaps():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [1, 0, 10, 10]], float)
    kept = mask_ops.nms(boxes, np.array([1, 0, 2, 3]), 0.7)
    np.testing.assert_array_equal(kept, [1, 2])


def test_remove_small_regions():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 2:12] = True
    mask[5, 5] = False  # a 1-pixel hole
    mask[16:18, 16:18] = True  # a 4-pixel island
    filled, changed = mask_ops.remove_small_regions(mask, 5, "holes")
    assert changed and filled[5, 5] and filled.sum() == mask.sum() + 1
    cleaned, changed = mask_ops.remove_small_regions(filled, 5, "islands")
    assert changed and not cleaned[16:18, 16:18].any() and cleaned.sum() == 100
    same, changed = mask_ops.remove_small_regions(cleaned, 5, "islands")
    assert not changed and same is cleaned
    only_small = np.zeros((10, 10), bool)
    only_small[0, 0] = only_small[5:7, 5:7] = True
    largest, _ = mask_ops.remove_small_regions(only_small, 50, "islands")
    assert largest.sum() == 4 and largest[5:7, 5:7].all()
    with pytest.raises(ValueError, match="mode"):
        mask_ops.remove_small_regions(mask, 5, "blobs")
