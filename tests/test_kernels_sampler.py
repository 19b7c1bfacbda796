"""Fused Gumbel-max sampler (Triton, on the CPU interpreter): parity of the confidences with the
reference, and the statistics of the drawn tokens."""

import math

import pytest
import torch

from maskdiff.kernels import gumbel_sample_reference, gumbel_sample_triton, triton_support
from maskdiff.kernels.sampler_triton import _log2_exponential
from maskdiff.kernels.triton_support import tl, triton
from tests.kernel_cases import (
    DEVICE,
    DTYPES,
    SHAPE_IDS,
    SHAPES,
    assert_close,
    capped_tiles,
    on_device,
    random_logits,
)

MASK = 5


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> tuple[float, int]:
    """Pearson statistic over all bins with non-zero probability; bins expecting < 5 draws are
    pooled into one. Returns (statistic, degrees of freedom)."""
    n = counts.sum()
    expected = probs.double() * n
    live = probs > 0
    small = live & (expected < 5)
    obs = torch.cat([counts[live & ~small].double(), counts[small].double().sum().view(1)])
    exp = torch.cat([expected[live & ~small], expected[small].sum().view(1)])
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    return float(((obs - exp) ** 2 / exp).sum()), int(keep.sum()) - 1


def chi_square_critical(dof: int, z: float = 4.26) -> float:
    """Upper quantile of chi-square(dof) by Wilson-Hilferty; z = 4.26 is p = 1e-5."""
    k = float(dof)
    return k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3


@pytest.mark.parametrize("temperature", [1.0, 0.6, 0.0])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows,vocab,cap", SHAPES, ids=SHAPE_IDS)
def test_confidences_match_reference(rows, vocab, cap, dtype, temperature, monkeypatch):
    capped_tiles(monkeypatch, cap)
    logits = random_logits(rows, vocab, dtype)
    ours = on_device(gumbel_sample_triton, logits, MASK, temperature=temperature, seed=11,
                     with_entropy=True)
    ref = gumbel_sample_reference(logits, MASK, temperature=temperature, with_entropy=True)
    tol = 1e-5 * math.log2(vocab) + 1e-6
    masked = logits.double().masked_fill(torch.arange(vocab) == MASK, -math.inf)
    at = lambda idx: masked.gather(-1, idx[:, None]).squeeze(-1)  # noqa: E731
    assert torch.equal(at(ours.argmax), at(ref.argmax)), "argmax is not a maximiser (ties aside)"
    for field in ("top1_prob", "top2_prob", "entropy"):
        assert_close(getattr(ours, field), getattr(ref, field), f"{field} ({dtype})",
                     atol=tol * (10 if field == "entropy" else 1), rtol=1e-5)
    if temperature == 0:
        assert torch.equal(ours.token, ours.argmax)
    scaled = logits.double() / (temperature or 1.0)
    logp = torch.log_softmax(scaled.masked_fill(torch.arange(vocab) == MASK, -math.inf), -1)
    assert_close(ours.token_prob, logp.gather(-1, ours.token[:, None]).squeeze(-1).exp(),
                 f"token probability ({dtype})", atol=tol, rtol=1e-5)
    assert not bool((ours.token == MASK).any())


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_chi_square_over_all_bins(temperature):
    g = torch.Generator().manual_seed(0)
    row = torch.randn(50, generator=g) * 1.5
    row[7] = -math.inf
    rows = 40_000
    out = on_device(gumbel_sample_triton, row.expand(rows, 50).contiguous(), 49,
                    temperature=temperature, seed=2024)
    probs = torch.softmax((row / temperature).masked_fill(torch.arange(50) == 49, -math.inf), 0)
    stat, dof = chi_square(torch.bincount(out.token, minlength=50), probs)
    assert stat < chi_square_critical(dof), f"chi-square {stat:.1f} with {dof} dof"


def test_chi_square_when_the_vocabulary_spans_several_tiles(monkeypatch):
    capped_tiles(monkeypatch, 64)  # V = 200: three full tiles and a partial one
    g = torch.Generator().manual_seed(1)
    row = torch.randn(200, generator=g) * 0.7
    row[64:128] -= 2.0  # tiles of unequal mass: the per-tile Gumbel must weigh them right
    row[128:192] += 1.0
    out = on_device(gumbel_sample_triton, row.expand(20_000, 200).contiguous(), MASK, seed=77)
    probs = torch.softmax(row.masked_fill(torch.arange(200) == MASK, -math.inf), 0)
    stat, dof = chi_square(torch.bincount(out.token, minlength=200), probs)
    assert stat < chi_square_critical(dof), f"chi-square {stat:.1f} with {dof} dof"


def test_mask_and_zero_probability_tokens_are_never_drawn():
    logits = torch.zeros(20_000, 13)
    logits[:, MASK] = 1e4  # the mask column is ignored however large
    logits[:, [2, 3]] = -math.inf
    out = on_device(gumbel_sample_triton, logits, MASK, seed=3)
    assert set(out.token.tolist()) == set(range(13)) - {2, 3, MASK}


@triton.jit
def _noise_kernel(bits_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    bits = tl.load(bits_ptr + offs, mask=ok, other=0).to(tl.uint32)
    tl.store(out_ptr + offs, _log2_exponential(bits), mask=ok)


def test_noise_is_exact_at_both_ends_of_the_uniform():
    """The far tail: a token 18-20 nats below the head is drawn only when its exponential
    E = -ln(u) is below e^-18 .. e^-20, i.e. u within 1.5e-8 .. 2e-9 of 1. A float32 u cannot
    get closer to 1 than 6e-8 (2^-24); the kernel's map from 32 random bits to log2(E) keeps
    full precision there. This checks that map against float64 at the extreme integers, and that
    the fraction of integers giving E < e^-d is 1 - exp(-e^-d) to within one integer."""
    top = 2**32
    ks = torch.cat([torch.arange(0, 4096), torch.arange(2**31 - 2048, 2**31 + 2048),
                    torch.arange(top - 200_000, top),
                    torch.randint(0, top, (100_000,), generator=torch.Generator().manual_seed(0))])
    out = torch.empty(ks.numel(), dtype=torch.float32, device=DEVICE)
    _noise_kernel[(triton.cdiv(ks.numel(), 65536),)](ks.to(DEVICE), out, ks.numel(), BLOCK=65536)
    out = out.cpu()
    k = ks.double()
    upper = ks >= 2**31
    exact = torch.where(upper, -torch.log1p(-((top - 1 - k) + 0.5) / top), -torch.log((k + 0.5) / top))
    assert_close(out, torch.log2(exact), "log2 E", atol=1e-5)

    tail_ks = torch.arange(top - 4096, top)  # the integers that give the smallest E
    tail = torch.empty(4096, dtype=torch.float32, device=DEVICE)
    _noise_kernel[(1,)](tail_ks.to(DEVICE), tail, 4096, BLOCK=4096)
    tail = tail.cpu()
    for gap in (18, 19, 20):
        below = int((tail < -gap * math.log2(math.e)).sum())
        expected = -math.expm1(-math.exp(-gap)) * top
        assert abs(below - expected) <= 1, f"gap {gap}: {below} integers vs {expected:.2f}"


@pytest.mark.parametrize("cap", [None, 512], ids=["one-tile", "four-tiles"])
def test_far_tail_is_drawn_at_the_right_rate(cap, monkeypatch):
    """End to end: 2046 tokens 11 nats below the head, drawn at their total rate; with four
    tiles the tail tokens also compete through the per-tile Gumbel of the grouped draw."""
    capped_tiles(monkeypatch, cap)
    rows, vocab, gap = 2048, 2048, 11.0
    logits = torch.full((rows, vocab), -gap)
    logits[:, 0] = 0.0
    out = on_device(gumbel_sample_triton, logits, vocab - 1, seed=5)
    tail_mass = (vocab - 2) * math.exp(-gap)
    expected = rows * tail_mass / (1 + tail_mass)
    drawn = int((out.token != 0).sum())
    assert abs(drawn - expected) < 4.5 * math.sqrt(expected), f"{drawn} vs {expected:.1f}"


def test_same_seed_same_tokens_whatever_the_rows_per_program(monkeypatch):
    logits = random_logits(50, 1000, torch.float32, scale=1.0)
    draw = lambda seed: on_device(gumbel_sample_triton, logits, MASK, seed=seed).token  # noqa
    a = draw(42)
    assert torch.equal(a, draw(42))
    assert not torch.equal(a, draw(43))
    monkeypatch.setattr(triton_support, "BLOCK_R_LIMIT", 1)  # one row per program, as on a GPU
    assert torch.equal(a, draw(42))


def test_generator_seed_gives_the_same_tokens():
    logits = random_logits(64, 40, torch.float32, scale=1.0)
    draw = lambda s: on_device(gumbel_sample_triton, logits, MASK,  # noqa: E731
                               generator=torch.Generator(DEVICE).manual_seed(s))
    assert torch.equal(draw(7).token, draw(7).token)
    assert not torch.equal(draw(7).token, draw(8).token)


def test_empty_input_and_leading_dimensions():
    out = on_device(gumbel_sample_triton, torch.zeros(0, 9), MASK, seed=1)
    assert out.token.shape == (0,)
    out = on_device(gumbel_sample_triton, torch.randn(2, 3, 9), MASK, seed=1, with_entropy=True)
    assert out.token.shape == out.entropy.shape == (2, 3)
    with pytest.raises(ValueError, match="temperature"):
        gumbel_sample_triton(torch.zeros(2, 9), MASK, temperature=-1.0)
