"""Fused masked log-softmax (Triton, on the CPU interpreter) against its PyTorch reference."""

import math

import pytest
import torch

from maskdiff.kernels import masked_log_softmax_reference, masked_log_softmax_triton
from tests.kernel_cases import (
    DEVICE,
    DTYPES,
    SHAPE_IDS,
    SHAPES,
    assert_close,
    capped_tiles,
    eps,
    on_device,
    random_logits,
)

MASK = 5


def current_tokens(rows, vocab, seed=1):
    """xt: every third row clean (carried over), the rest [MASK]."""
    g = torch.Generator().manual_seed(seed)
    xt = torch.full((rows,), MASK)
    clean = torch.arange(rows) % 3 == 1
    xt[clean] = torch.randint(0, vocab - 1, (int(clean.sum()),), generator=g)
    xt[xt == MASK] = MASK + 1 if vocab > MASK + 1 else 0
    xt[~clean] = MASK
    return xt


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows,vocab,cap", SHAPES, ids=SHAPE_IDS)
def test_forward_matches_reference(rows, vocab, cap, dtype, monkeypatch):
    capped_tiles(monkeypatch, cap)
    logits = random_logits(rows, vocab, dtype)
    for xt in (None, current_tokens(rows, vocab)):
        ours = on_device(masked_log_softmax_triton, logits, MASK, xt)
        ref = masked_log_softmax_reference(logits.double(), MASK, xt)
        assert ours.dtype == torch.float32
        assert_close(ours, ref, f"log p ({dtype}, xt={'yes' if xt is not None else 'no'})",
                     atol=2e-5 * math.log2(vocab) + 1e-5, rtol=1e-5)


def test_all_rows_clean_are_carried_over():
    logits = random_logits(40, 33, torch.float32)
    xt = torch.randint(0, 32, (40,))
    xt[xt == MASK] = 0
    ours = on_device(masked_log_softmax_triton, logits, MASK, xt)
    expected = torch.full((40, 33), -math.inf)
    expected[torch.arange(40), xt] = 0.0
    assert torch.equal(ours, expected)


def test_mask_column_is_ignored_however_large():
    logits = torch.zeros(3, 9)
    logits[:, MASK] = 1e30
    ours = on_device(masked_log_softmax_triton, logits, MASK)
    assert torch.isinf(ours[:, MASK]).all()
    assert_close(ours[:, :MASK], torch.full((3, MASK), -math.log(8)), "uniform log p", 1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows,vocab,cap", SHAPES[:4], ids=SHAPE_IDS[:4])
def test_backward_matches_reference(rows, vocab, cap, dtype, monkeypatch):
    capped_tiles(monkeypatch, cap)
    logits = random_logits(rows, vocab, dtype)
    logits[torch.isinf(logits)] = 0.0  # -inf inputs have no gradient to compare
    xt = current_tokens(rows, vocab)
    upstream = torch.randn(rows, vocab, generator=torch.Generator().manual_seed(3))
    grads = []
    for fn, x, device in ((masked_log_softmax_triton, logits, DEVICE),
                          (masked_log_softmax_reference, logits.double(), torch.device("cpu"))):
        leaf = x.clone().to(device).requires_grad_()
        logp = fn(leaf, MASK, xt.to(device))
        finite = torch.isfinite(logp.detach())
        (logp[finite] * upstream.to(device)[finite].to(logp.dtype)).sum().backward()
        grads.append(leaf.grad.cpu())
    ours, ref = grads
    assert ours.dtype == dtype
    assert bool((ours[xt != MASK] == 0).all()), "carried rows must get no gradient"
    assert bool((ours[:, MASK] == 0).all()), "the mask column must get no gradient"
    scale = float(ref.abs().max())
    assert_close(ours, ref, f"d logits ({dtype})", atol=4 * eps(dtype) * scale + 1e-6, rtol=1e-4)


def test_wrong_number_of_tokens_is_a_clear_error():
    with pytest.raises(ValueError, match="xt has 2 tokens for 4 rows"):
        on_device(masked_log_softmax_triton, torch.zeros(4, 8), MASK, torch.tensor([5, 5]))
