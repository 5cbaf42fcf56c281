"""Export wrappers: the decoder program's contract (B prompts, N slots) in eager PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinysam_mobile.contract import LABEL_UNUSED
from tinysam_mobile.toolchain.export import DecoderModule, decoder_example_inputs, io_contract


def _prompts(batch: int, slots: int) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(0)
    coords = torch.from_numpy(rng.uniform(0, 1000, (batch, slots, 2)).astype(np.float32))
    labels = torch.full((batch, slots), float(LABEL_UNUSED))
    labels[:, 0] = 1.0
    labels[1, 1:3] = torch.tensor([0.0, -1.0])
    labels[2:3, 1:3] = torch.tensor([2.0, 3.0])
    mask = torch.from_numpy(rng.normal(size=(batch, 1, 256, 256)).astype(np.float32))
    has_mask = torch.tensor([0.0, 1.0, 0.0, 1.0])[:batch]
    return coords, labels, mask, has_mask


@pytest.mark.parametrize("fold", [False, True], ids=["blocks-as-is", "folded-blocks"])
def test_a_batch_answers_each_prompt_as_alone(tiny_model, fold):
    decoder = DecoderModule(tiny_model, fold=fold).eval()
    emb = torch.randn(1, 32, 64, 64, generator=torch.Generator().manual_seed(1))
    coords, labels, mask, has_mask = _prompts(4, 6)
    with torch.no_grad():
        low, iou = decoder(emb, coords, labels, mask, has_mask)
        for b in range(4):
            one = decoder(emb, coords[b : b + 1], labels[b : b + 1], mask[b : b + 1], has_mask[b : b + 1])
            torch.testing.assert_close(low[b : b + 1], one[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(iou[b : b + 1], one[1], atol=1e-5, rtol=0)
    assert low.shape == (4, 3, 256, 256) and iou.shape == (4, 3)


@pytest.mark.parametrize("fold", [False, True], ids=["blocks-as-is", "folded-blocks"])
def test_decoder_equals_the_reference_model_on_unpadded_prompts(tiny_model, fold):
    """The program (folded projections, precomputed PE, mask blend, unused slots) equals
    ``Sam.decode`` on the official prompt without unused slots."""
    decoder = DecoderModule(tiny_model, fold=fold).eval()
    emb = torch.randn(1, 32, 64, 64, generator=torch.Generator().manual_seed(2))
    coords, labels, mask, has_mask = _prompts(2, 6)
    with torch.no_grad():
        low, iou = decoder(emb, coords, labels, mask, has_mask)
        ref = tiny_model.decode(emb, coords[1:2, :3], labels[1:2, :3], mask[1:2])
    torch.testing.assert_close(low[1:2], ref[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(iou[1:2], ref[1], atol=1e-5, rtol=0)


def test_example_inputs_follow_the_contract(tiny_model):
    spec = io_contract(tiny_model, max_points=5, decoder_batch=3)
    example = decoder_example_inputs(tiny_model, 5, 3)
    assert [tuple(t.shape) for t in example] == [s.shape for s in spec.decoder_inputs]
    assert spec.decoder_outputs[0].shape == (3, 3, 256, 256)
