"""COCO RLE in pure NumPy, checked against strings pycocotools 2.0 produced for the same masks."""

import numpy as np
import pytest

from tinysam_mobile import rle


def _rectangle() -> np.ndarray:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:4] = True
    return mask


def _random() -> np.ndarray:
    bits = np.unpackbits(np.array([48, 151, 100, 212, 214, 192], np.uint8))[:42]
    return bits.reshape(6, 7).astype(bool)


def _big() -> np.ndarray:
    mask = np.zeros((40, 50), bool)
    mask[5:35, 10:45] = True
    mask[0, 0] = True
    return mask


# (mask, pycocotools.mask.encode(...)["counts"], area)
PYCOCOTOOLS_CASES = [
    (_rectangle(), "5220003", 6),
    (np.ones((3, 3), bool), "09", 9),
    (_random(), "221O010O0031M00O034NLO0000", 21),
    (_big(), "01d<m0fC" + "0" * 67 + "S6", 1051),
]


@pytest.mark.parametrize("mask, counts, area", PYCOCOTOOLS_CASES)
def test_encode_matches_pycocotools(mask, counts, area):
    encoded = rle.encode(mask)
    assert encoded == {"size": list(mask.shape), "counts": counts}
    assert rle.area(encoded) == area
    np.testing.assert_array_equal(rle.decode(encoded), mask)


def test_round_trip_random_masks():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (1, 9), (17, 3), (64, 48)]:
        for density in (0.0, 0.02, 0.5, 1.0):
            mask = rng.random(shape) < density
            encoded = rle.encode(mask)
            np.testing.assert_array_equal(rle.decode(encoded), mask)
            assert rle.area(encoded) == mask.sum()
            assert rle.decode({"size": list(shape), "counts": rle.mask_to_counts(mask)}).sum() == mask.sum()


def test_counts_start_with_zeros_run():
    assert rle.mask_to_counts(np.array([[True], [False]])) == [0, 1, 1]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one H x W mask"):
        rle.encode(np.zeros((2, 3, 4), bool))
    with pytest.raises(ValueError, match="sum to 5"):
        rle.decode({"size": [2, 3], "counts": [2, 3]})
    with pytest.raises(ValueError, match="truncated"):
        rle.string_to_counts("0" + chr(0x20 + 48))
    with pytest.raises(ValueError, match="invalid RLE character"):
        rle.string_to_counts(" ")
