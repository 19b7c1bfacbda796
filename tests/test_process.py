import pytest
import torch

from maskdiff.process import (
    block_causal_mask,
    check_block_size,
    mask_tokens,
    sample_times,
    training_attention_mask,
)


def test_antithetic_times_are_stratified():
    g = torch.Generator().manual_seed(0)
    t = sample_times(8, generator=g, t_min=0.0)
    # one point in each eighth of [0, 1)
    assert sorted((t * 8).floor().long().tolist()) == list(range(8))


def test_times_respect_t_min():
    t = sample_times(1000, generator=torch.Generator().manual_seed(1), t_min=0.2, antithetic=False)
    assert float(t.min()) >= 0.2 and float(t.max()) <= 1.0


def test_times_fill_a_focus_range_evenly():
    t = sample_times(10, generator=torch.Generator().manual_seed(2), t_min=0.45, t_max=0.95)
    assert float(t.min()) >= 0.45 and float(t.max()) <= 0.95
    assert sorted(((t - 0.45) / 0.05).floor().long().tolist()) == list(range(10))


@pytest.mark.parametrize("lo,hi", [(0.5, 0.5), (0.6, 0.4), (-0.1, 0.5), (0.2, 1.5)])
def test_bad_time_range_is_named(lo, hi):
    with pytest.raises(ValueError, match="t_min"):
        sample_times(4, t_min=lo, t_max=hi)


def test_masking_never_touches_conditioning_positions():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 5, (64, 10), generator=g)
    maskable = torch.rand(64, 10, generator=g) < 0.5
    xt, masked = mask_tokens(x0, torch.ones(64), 5, maskable=maskable, generator=g)
    assert bool((xt[~maskable] == x0[~maskable]).all())
    assert bool((xt[maskable] == 5).all())  # t = 1 masks everything maskable
    assert torch.equal(masked, maskable)


def test_masking_rate_matches_probability():
    g = torch.Generator().manual_seed(0)
    x0 = torch.zeros(2000, 50, dtype=torch.long)
    _, masked = mask_tokens(x0, torch.full((2000,), 0.3), 7, generator=g)
    assert abs(masked.float().mean().item() - 0.3) < 0.005


def _expected_training_mask(L, b):
    out = torch.zeros(2 * L, 2 * L, dtype=torch.bool)
    for i in range(2 * L):
        for j in range(2 * L):
            bi, bj = (i % L) // b, (j % L) // b
            if i < L and j < L:
                out[i, j] = bi == bj
            elif i < L:
                out[i, j] = bj < bi
            elif j >= L:
                out[i, j] = bj <= bi
    return out


@pytest.mark.parametrize("L,b", [(4, 1), (4, 2), (4, 4), (6, 3)])
def test_training_attention_mask_matches_definition(L, b):
    assert torch.equal(training_attention_mask(L, b), _expected_training_mask(L, b))


def test_block_size_one_is_autoregressive():
    m = training_attention_mask(3, 1)
    noisy_to_noisy, noisy_to_clean = m[:3, :3], m[:3, 3:]
    assert torch.equal(noisy_to_noisy, torch.eye(3, dtype=torch.bool))
    assert torch.equal(noisy_to_clean, torch.tril(torch.ones(3, 3, dtype=torch.bool), -1))


def test_full_block_is_plain_masked_diffusion():
    m = training_attention_mask(4, 4)
    assert bool(m[:4, :4].all()) and not bool(m[:4, 4:].any()) and not bool(m[4:, :4].any())


def test_block_causal_mask():
    assert torch.equal(block_causal_mask(4, 2), torch.tensor(
        [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=torch.bool))


def test_block_size_errors():
    with pytest.raises(ValueError, match="not a multiple"):
        check_block_size(10, 3)
    with pytest.raises(ValueError, match="block_size must lie"):
        check_block_size(4, 0)
