"""Prompt packing: the official slot order, unused slots, and the decoder's masking of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinysam_mobile.contract import LABEL_NOT_A_POINT, LABEL_UNUSED
from tinysam_mobile.prompts import PromptBatch, pack_prompt


def test_points_get_the_official_not_a_point_token_and_unused_slots_after():
    coords, labels = pack_prompt(np.array([[10.0, 20.0]]), np.array([1]), None)
    padded = PromptBatch(coords[None], labels[None]).padded_to(4)
    assert padded.labels.tolist() == [[1, LABEL_NOT_A_POINT, LABEL_UNUSED, LABEL_UNUSED]]
    assert padded.coords[0, 2:].tolist() == [[0, 0], [0, 0]]


def test_box_takes_no_not_a_point_token():
    _, labels = pack_prompt(np.array([[5.0, 5.0]]), np.array([0]), np.array([0, 0, 9, 9]))
    assert labels.tolist() == [0, 2, 3]


def test_too_many_slots_counts_the_not_a_point_token():
    coords, labels = pack_prompt(np.zeros((3, 2)), np.ones(3), None)
    with pytest.raises(ValueError, match="4 slots .*not-a-point token included.* at most 3"):
        PromptBatch(coords[None], labels[None]).padded_to(3)


@pytest.mark.parametrize("slots", [3, 5, 16])
def test_unused_slots_do_not_change_the_answer(tiny_model, slots):
    """Exact up to float rounding; the same slots as -1 tokens (the v1 contract) change it."""
    emb = torch.randn(1, 32, 64, 64, generator=torch.Generator().manual_seed(0))
    coords, labels = pack_prompt(np.array([[300.0, 400.0], [600, 100]]), np.array([1, 0]), None)
    batch = PromptBatch(coords[None], labels[None])
    with torch.no_grad():
        ref, ref_iou = tiny_model.decode(emb, torch.from_numpy(batch.coords), torch.from_numpy(batch.labels))
        padded = batch.padded_to(slots)
        out, iou = tiny_model.decode(emb, torch.from_numpy(padded.coords), torch.from_numpy(padded.labels))
        as_tokens = np.where(padded.labels == LABEL_UNUSED, LABEL_NOT_A_POINT, padded.labels)
        leaked, _ = tiny_model.decode(emb, torch.from_numpy(padded.coords), torch.from_numpy(as_tokens))
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(iou, ref_iou, atol=1e-6, rtol=0)
    if slots > 3:
        assert float((leaked - ref).abs().max()) > 1e-3


def test_rows_slices_every_field():
    batch = PromptBatch(np.zeros((4, 2, 2), np.float32), np.ones((4, 2), np.float32), np.zeros((4, 1, 8, 8)))
    part = batch.rows(1, 3)
    assert part.batch == 2 and part.mask_input is not None and part.mask_input.shape[0] == 2
