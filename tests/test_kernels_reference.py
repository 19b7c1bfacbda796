"""The PyTorch reference kernels: semantics the engine relies on."""

import math

import pytest
import torch
import torch.nn.functional as F

from maskdiff import kernels


def test_sampler_never_draws_mask_or_impossible_tokens():
    logits = torch.zeros(4000, 6)
    logits[:, 2] = -math.inf
    out = kernels.gumbel_sample(logits, mask_id=5, generator=torch.Generator().manual_seed(0))
    drawn = set(out.token.tolist())
    assert 5 not in drawn and 2 not in drawn and drawn == {0, 1, 3, 4}


def test_sampler_frequencies_match_probabilities():
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03, 0.0])
    logits = probs.clamp_min(1e-30).log().expand(200_000, 6).clone()
    logits[:, 5] = 10.0  # the mask column is ignored however large
    out = kernels.gumbel_sample(logits, mask_id=5, generator=g)
    counts = torch.bincount(out.token, minlength=6).double()
    expected = probs.double() * 200_000
    chi2 = float((((counts[:5] - expected[:5]) ** 2) / expected[:5]).sum())
    assert chi2 < 25.0  # 4 degrees of freedom: p < 1e-4
    assert counts[5] == 0


def test_far_tail_is_drawn_at_the_right_rate():
    """A token 12 nats below the head must still appear (float64 noise reaches it)."""
    logits3 = torch.tensor([[0.0, -12.0, 0.0]]).expand(2_000_000, 3).contiguous()
    out = kernels.gumbel_sample(logits3, mask_id=2, generator=torch.Generator().manual_seed(0))
    rate = float((out.token == 1).double().mean())
    expected = math.exp(-12) / (1 + math.exp(-12))
    assert abs(rate - expected) < 5 * math.sqrt(expected / 2_000_000)
    assert rate > 0


def test_confidences_and_entropy():
    logits = torch.tensor([[2.0, 1.0, 0.0, 5.0]])
    out = kernels.gumbel_sample(logits, mask_id=3, temperature=0.0, with_entropy=True)
    p = torch.softmax(torch.tensor([2.0, 1.0, 0.0]), 0)
    assert int(out.token) == int(out.argmax) == 0
    assert float(out.top1_prob) == pytest.approx(float(p[0]))
    assert float(out.margin) == pytest.approx(float(p[0] - p[1]))
    assert float(out.entropy) == pytest.approx(float(-(p * p.log()).sum()))


def test_same_seed_same_tokens():
    logits = torch.randn(100, 50)
    a = kernels.gumbel_sample(logits, 49, generator=torch.Generator().manual_seed(7)).token
    b = kernels.gumbel_sample(logits, 49, generator=torch.Generator().manual_seed(7)).token
    assert torch.equal(a, b)


def test_masked_log_softmax_carries_clean_rows():
    logits = torch.randn(3, 5)
    xt = torch.tensor([4, 2, 4])  # mask id 4: rows 0 and 2 are masked, row 1 is clean
    logp = kernels.masked_log_softmax(logits, 4, xt)
    expected_row0 = torch.cat([torch.log_softmax(logits[0, :4], 0), torch.tensor([-math.inf])])
    assert torch.allclose(logp[0], expected_row0)
    assert logp[1, 2] == 0 and bool(torch.isinf(logp[1, [0, 1, 3, 4]]).all())


def test_elbo_cross_entropy_matches_cross_entropy_without_mask_column():
    logits = torch.randn(7, 6)
    targets = torch.randint(0, 5, (7,))
    w = torch.rand(7)
    ours = kernels.elbo_cross_entropy(logits, targets, 5, w)
    ref = F.cross_entropy(logits[:, :5], targets, reduction="none") * w
    assert torch.allclose(ours, ref, atol=1e-6)
