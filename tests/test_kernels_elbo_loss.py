"""Fused ELBO cross-entropy (Triton, on the CPU interpreter) against its PyTorch reference."""

import math

import pytest
import torch

from maskdiff.kernels import elbo_cross_entropy_reference, elbo_cross_entropy_triton
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
    to_device,
)

MASK = 5


def case(rows, vocab, dtype, seed=0):
    g = torch.Generator().manual_seed(seed + 1)
    logits = random_logits(rows, vocab, dtype, seed)
    targets = torch.randint(0, vocab, (rows,), generator=g)
    targets[targets == MASK] = 0
    logits[torch.arange(rows), targets] = logits[torch.arange(rows), targets].clamp_min(-50)
    weights = torch.rand(rows, generator=g) * 10  # w(t) = 1/t is large at small t
    return logits, targets, weights


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows,vocab,cap", SHAPES, ids=SHAPE_IDS)
def test_loss_and_gradient_match_reference(rows, vocab, cap, dtype, monkeypatch):
    capped_tiles(monkeypatch, cap)
    logits, targets, weights = case(rows, vocab, dtype)
    upstream = torch.rand(rows, generator=torch.Generator().manual_seed(9))
    ref_leaf = logits.double().requires_grad_()
    ref = elbo_cross_entropy_reference(ref_leaf, targets, MASK, weights.double())
    (ref * upstream.double()).sum().backward()

    leaf = logits.clone().to(DEVICE).requires_grad_()
    ours = elbo_cross_entropy_triton(leaf * 1, to_device(targets), MASK,  # a non-leaf, like a head
                                     to_device(weights))
    (ours * to_device(upstream)).sum().backward()
    assert ours.dtype == torch.float32 and leaf.grad.dtype == dtype
    ours, grad = ours.detach().cpu(), leaf.grad.cpu()
    assert_close(ours, ref, f"loss ({dtype})", atol=1e-5 * math.log2(vocab) * 10, rtol=1e-5)
    scale = float(ref_leaf.grad.abs().max())
    assert_close(grad, ref_leaf.grad, f"d logits ({dtype})",
                 atol=2 * eps(dtype) * scale + 1e-6, rtol=2 * eps(dtype))
    assert bool((grad[:, MASK] == 0).all()), "the mask column must get no gradient"


def test_without_weights_is_plain_cross_entropy_over_non_mask_columns():
    logits, targets, _ = case(50, 12, torch.float32)
    ours = on_device(elbo_cross_entropy_triton, logits, targets, MASK)
    keep = [c for c in range(12) if c != MASK]
    remap = torch.tensor([keep.index(int(t)) for t in targets])
    expected = torch.nn.functional.cross_entropy(logits[:, keep].double(), remap,
                                                 reduction="none")
    assert_close(ours, expected, "unweighted loss", atol=1e-5, rtol=1e-6)


def test_gradient_is_written_into_the_logits_buffer():
    logits, targets, weights = case(20, 30, torch.float32)
    buffer = logits.clone().to(DEVICE).requires_grad_()
    head_out = buffer * 1  # stands for the output projection's result
    loss = elbo_cross_entropy_triton(head_out, to_device(targets), MASK, to_device(weights)).sum()
    written = head_out.detach().cpu()
    loss.backward()
    expected = torch.softmax(logits.masked_fill(torch.arange(30) == MASK, -math.inf), -1)
    expected[torch.arange(20), targets] -= 1
    assert_close(written, expected * weights[:, None], "gradient in the buffer", atol=1e-6, rtol=1e-6)
    assert_close(buffer.grad.cpu(), expected * weights[:, None], "gradient", atol=1e-6, rtol=1e-6)


def test_logits_are_left_alone_when_asked_or_without_gradient():
    logits, targets, weights = map(to_device, case(20, 30, torch.float32))
    kept = logits.clone().requires_grad_()
    before = kept.detach().clone()
    elbo_cross_entropy_triton(kept * 1, targets, MASK, weights)  # product: a fresh buffer
    x = kept * 1
    x_before = x.detach().clone()
    elbo_cross_entropy_triton(x, targets, MASK, weights, overwrite_logits=False).sum().backward()
    assert torch.equal(x.detach(), x_before)
    with torch.no_grad():
        y = kept * 1
        elbo_cross_entropy_triton(y, targets, MASK, weights)
        assert torch.equal(y, before)


def test_second_backward_is_refused():
    logits, targets, weights = map(to_device, case(4, 9, torch.float32))
    loss = elbo_cross_entropy_triton(logits.clone().requires_grad_() * 1, targets, MASK,
                                     weights).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="single backward"):
        loss.backward()


def test_mismatched_targets_are_a_clear_error():
    with pytest.raises(ValueError, match="one entry per row"):
        on_device(elbo_cross_entropy_triton, torch.zeros(4, 9), torch.zeros(3, dtype=torch.long),
                  MASK)


def test_invalid_targets_give_nan_not_a_stray_read():
    logits, targets, _ = case(6, 9, torch.float32)
    targets[1], targets[3] = MASK, 9  # the mask id; one past the end
    ours = on_device(elbo_cross_entropy_triton, logits, targets, MASK)
    assert torch.isnan(ours[[1, 3]]).all() and torch.isfinite(ours[[0, 2, 4, 5]]).all()
