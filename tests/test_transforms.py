"""Pre/post-processing contract: resize rule, antialiasing, normalization, padding, coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tinysam_mobile import transforms as T


@pytest.mark.parametrize(
    "size,expected",
    [
        ((1, 1), (1024, 1024)),
        ((770, 769), (1024, 1023)),  # 769 * 1024/770 = 1022.67 -> 1023
        ((3024, 4032), (768, 1024)),
        ((4032, 3024), (1024, 768)),
        ((1, 5000), (1, 1024)),  # 0.2048 + 0.5 -> 0, clamped to 1 (the official code fails here)
        ((5000, 1), (1024, 1)),
        ((1000, 3), (1024, 3)),  # 3.072 + 0.5 -> 3
    ],
)
def test_preprocess_shape(size, expected):
    assert T.preprocess_shape(*size) == expected


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 5000, 3), (4032, 3024, 3), (3, 1000, 3)])
def test_preprocess_odd_sizes(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    tensor, (h, w) = T.preprocess(image)
    assert tensor.shape == (1, 3, 1024, 1024) and tensor.dtype == np.float32
    assert (h, w) == T.preprocess_shape(*shape[:2])
    assert not tensor[:, :, h:, :].any() and not tensor[:, :, :, w:].any()  # zero padding
    logits = T.upscale_logits(torch.zeros(1, 3, 256, 256), (h, w), shape[:2])
    assert logits.shape == (1, 3, *shape[:2])


def test_normalization_values():
    image = np.full((4, 4, 3), (123, 116, 104), dtype=np.uint8)
    tensor, _ = T.preprocess(image)
    expected = (np.array([123, 116, 104], np.float32) - T.PIXEL_MEAN) / T.PIXEL_STD
    np.testing.assert_allclose(tensor[0, :, 0, 0], expected, rtol=0, atol=0)


def test_downscale_is_antialiased_like_pil():
    checker = ((np.indices((2048, 2048)).sum(0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checker[:, :, None], 3, axis=2)
    resized = T.resize_longest_side(image)
    assert resized.shape == (1024, 1024, 3)
    assert np.abs(resized.astype(int) - 127).max() <= 3  # averaged, not sampled


def test_grayscale_is_replicated():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = T.as_rgb_uint8(gray)
    assert rgb.shape == (3, 4, 3)
    assert (rgb == gray[:, :, None]).all()
    assert T.as_rgb_uint8(gray[:, :, None]).shape == (3, 4, 3)


def test_pil_modes_are_converted():
    rgba = Image.new("RGBA", (5, 4), (10, 20, 30, 0))
    assert T.as_rgb_uint8(rgba).shape == (4, 5, 3)
    assert T.as_rgb_uint8(Image.new("L", (5, 4), 7))[0, 0].tolist() == [7, 7, 7]


@pytest.mark.parametrize(
    "image,message",
    [
        (np.zeros((4, 4, 4), np.uint8), "RGBA: drop or composite"),
        (np.zeros((4, 4, 3), np.float32), "must be uint8"),
        (np.zeros((4, 4, 2), np.uint8), "HxWx3"),
        (np.zeros((0, 4, 3), np.uint8), "at least 1x1"),
        ([[1, 2]], "numpy array or PIL.Image"),
    ],
)
def test_bad_images_are_refused(image, message):
    with pytest.raises((ValueError, TypeError), match=message):
        T.as_rgb_uint8(image)


def test_coordinate_and_box_transforms():
    coords = T.transform_coords(np.array([[769.0, 770.0], [0.0, 0.0]]), (770, 769))
    np.testing.assert_allclose(coords, [[1023.0, 1024.0], [0.0, 0.0]])
    boxes = T.transform_boxes(np.array([0, 0, 3024, 4032]), (4032, 3024))
    np.testing.assert_allclose(boxes, [[0, 0, 768, 1024]])


def test_upscale_crops_padding_before_resizing():
    low = torch.full((1, 1, 256, 256), -10.0)
    low[..., :128, :] = 10.0  # positive in the top half of the padded 1024 frame
    # resized size 512x1024 (a 1:2 image): the top half of the frame is the whole image
    masks = T.upscale_logits(low, (512, 1024), (100, 200)) > 0
    assert masks.all()
