"""Fused Gumbel-max sampler (Triton): one read of the logits gives the token and its confidences.

Per row, one online pass over the vocabulary in base-2 units (exp2/log2) keeps:
- the running max m and rescaled sum s (the normaliser),
- the entropy accumulator T = sum 2^(y-m) (y-m), rescaled when m moves (H = ln2 (log2 s - T/s)),
- the two largest logits and the argmax,
- the best Gumbel score so far and its column, by grouped Gumbel-max: one Gumbel per (row, tile)
  against the tile's log-mass, per-column noise only inside a tile that takes the lead (the
  winner's logit is read once, at the end, for its probability).
Probabilities are never materialised.

Random numbers: Philox-4x32 keyed by a 64-bit seed (drawn from the caller's generator once per
call); per-column noise has counters (column // 4, row, 0), one Philox call for four columns,
and the tile Gumbel has (tile, row, 1). Results do not depend on how many rows a program takes;
they do depend on the tile width, which `tile_shape` sets the same way on the interpreter and on
a GPU (the next power of two of V, at most 4096), so both use the same noise for a seed (the
tokens can still differ where two scores are within rounding: the GPU's exp2/log2 are
approximate).

The exponential E is computed from the 32-bit integer so that both ends of the uniform keep full
precision: E near 0 (a tail token beating the head, which needs u within 1e-9 of 1) comes from
v = 1 - u exactly, as -log1p(-v) by its series, written out because libdevice is not used. The
smallest E is 2^-33, so a token can beat one 22.9 nats above it; a naive float32 u cannot get
closer to 1 than 2^-24 (16.6 nats).
"""

from __future__ import annotations

import torch

from .sampler import SampleOutput
from .triton_support import INTERPRETED, as_rows, tile_shape, tl, triton

__all__ = ["gumbel_sample_triton", "draw_seed"]

LOG2E = 1.4426950408889634


@triton.jit
def _log2_exponential(bits):
    """log2 of an Exp(1) variate from 32 random bits (uint32): E = -ln(u), u = (k + 1/2) 2^-32."""
    upper = (bits >> 31) == 1  # u >= 1/2: work with v = 1 - u, which is exact for small v
    flipped = 2147483647 - (bits & 2147483647)  # = ~bits in the upper half, in integers
    v = (flipped.to(tl.float32) + 0.5) * 2.3283064365386963e-10
    u = (bits.to(tl.float32) + 0.5) * 2.3283064365386963e-10
    # -log1p(-v) = v + v^2/2 + ... + v^6/6 (relative error < 2^-30 for v < 1/32)
    series = v * (1.0 + v * (0.5 + v * (0.3333333333333333 + v * (
        0.25 + v * (0.2 + v * 0.16666666666666666)))))
    use_series = upper & (v < 0.03125)
    w = tl.where(upper, 1.0 - v, u)
    w = tl.where(use_series, 0.5, w)  # any positive value: that branch is replaced below
    e = tl.where(use_series, series, -tl.log2(w) * 0.6931471805599453)
    return tl.log2(e)


@triton.jit
def _gumbel_argmax(y, seed, start, rows, N_ROUNDS: tl.constexpr, BLOCK_R: tl.constexpr,
                   BLOCK_V: tl.constexpr):
    """Per row, the tile column maximising y - log2(E): per-column noise with counters
    (column // 4, row, 0), one Philox call for four columns. -inf logits are never chosen."""
    groups = (start // 4 + tl.arange(0, BLOCK_V // 4)).to(tl.uint32)
    c0 = tl.zeros([BLOCK_R, BLOCK_V // 4], tl.uint32) + groups[None, :]
    c1 = tl.zeros([BLOCK_R, BLOCK_V // 4], tl.uint32) + rows.to(tl.uint32)[:, None]
    zero = tl.zeros([BLOCK_R, BLOCK_V // 4], tl.uint32)
    r0, r1, r2, r3 = tl.philox(seed, c0, c1, zero, zero, N_ROUNDS)
    bits = tl.reshape(tl.join(tl.join(r0, r1), tl.join(r2, r3)), [BLOCK_R, BLOCK_V])
    _, col = tl.max(y - _log2_exponential(bits), 1, return_indices=True,
                    return_indices_tie_break_left=True)
    return col


@triton.jit
def _gumbel_sample_kernel(
    logits_ptr, token_ptr, token_prob_ptr, top1_ptr, top2_ptr, argmax_ptr, entropy_ptr,
    n_rows, vocab, stride_row, mask_id, scale, seed_ptr,
    GREEDY: tl.constexpr, WITH_ENTROPY: tl.constexpr, ONE_TILE: tl.constexpr,
    N_ROUNDS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    if not GREEDY:
        seed = tl.load(seed_ptr)  # read on the device: drawing it needs no host sync
    row_base = logits_ptr + rows.to(tl.int64) * stride_row  # 64-bit: rows * V may pass 2^31
    local = tl.arange(0, BLOCK_V)
    neg_inf = float("-inf")

    m = tl.full([BLOCK_R], neg_inf, tl.float32)  # running max of y = scale * logit (base 2)
    s = tl.zeros([BLOCK_R], tl.float32)
    ent = tl.zeros([BLOCK_R], tl.float32)
    top1 = tl.full([BLOCK_R], neg_inf, tl.float32)
    top2 = tl.full([BLOCK_R], neg_inf, tl.float32)
    top1_col = tl.zeros([BLOCK_R], tl.int32)
    best = tl.full([BLOCK_R], neg_inf, tl.float32)
    best_col = tl.zeros([BLOCK_R], tl.int32)

    for start in range(0, vocab, BLOCK_V):
        cols = start + local
        ok = row_ok[:, None] & (cols < vocab)[None, :]
        y = tl.load(row_base[:, None] + cols[None, :], mask=ok, other=neg_inf).to(tl.float32)
        y = tl.where(cols[None, :] == mask_id, neg_inf, y * scale)

        # online normaliser (and entropy), guarded while a row has seen only -inf
        # (one reduction gives the max and its column; the earliest column wins ties)
        tile_max, tile_arg = tl.max(y, 1, return_indices=True, return_indices_tie_break_left=True)
        m_new = tl.maximum(m, tile_max)
        m_safe = tl.where(m_new == neg_inf, 0.0, m_new)
        shift = tl.where(m == neg_inf, 0.0, m - m_safe)
        alpha = tl.exp2(shift)
        p = tl.exp2(y - m_safe[:, None])
        if WITH_ENTROPY:
            d = tl.where(y > neg_inf, y - m_safe[:, None], 0.0)
            ent = alpha * (ent + shift * s) + tl.sum(p * d, 1)
        tile_sum = tl.sum(p, 1)
        s = s * alpha + tile_sum
        m = m_new

        # two largest logits
        tile_second = tl.max(tl.where(local[None, :] == tile_arg[:, None], neg_inf, y), 1)
        top2 = tl.maximum(tl.minimum(top1, tile_max), tl.maximum(top2, tile_second))
        top1_col = tl.where(tile_max > top1, start + tile_arg, top1_col)
        top1 = tl.maximum(top1, tile_max)

        if not GREEDY:
            if ONE_TILE:  # the whole row is in this tile: plain Gumbel-max
                best_col = _gumbel_argmax(y, seed, start, rows, N_ROUNDS, BLOCK_R, BLOCK_V)
            else:
                # Grouped Gumbel-max, exact: the best Gumbel score within a tile is distributed
                # as the tile's log-mass plus one Gumbel, and which column attains it is
                # independent of that value. So one Gumbel per (row, tile) decides between
                # tiles, and per-column noise is drawn only in a tile that takes the lead, to
                # pick its column (about ln(#tiles) + 0.6 such tiles per row).
                tile_mass = tl.where(tile_sum > 0,
                                     m_safe + tl.log2(tl.maximum(tile_sum, 1e-30)), neg_inf)
                tile_key = tl.zeros([BLOCK_R], tl.uint32) + start // BLOCK_V
                stream = tl.full([BLOCK_R], 1, tl.uint32)  # disjoint from per-column counters
                tile_bits, _b1, _b2, _b3 = tl.philox(seed, tile_key, rows.to(tl.uint32), stream,
                                                     tl.zeros([BLOCK_R], tl.uint32), N_ROUNDS)
                tile_score = tile_mass - _log2_exponential(tile_bits)
                take = tile_score > best
                if tl.max(take.to(tl.int32), 0) > 0:
                    tile_col = _gumbel_argmax(y, seed, start, rows, N_ROUNDS, BLOCK_R, BLOCK_V)
                    best_col = tl.where(take, start + tile_col, best_col)
                best = tl.maximum(best, tile_score)

    s = tl.where(row_ok, s, 1.0)  # rows past the end: keep the arithmetic finite
    m = tl.where(row_ok, m, 0.0)
    log2_s = tl.log2(s)
    lse = m + log2_s
    top1_prob = tl.exp2(top1 - lse)
    if GREEDY:
        best_col = top1_col
        token_prob = top1_prob
    else:
        # the drawn token's logit: one read per row instead of a reduction per tile
        y_token = tl.load(row_base + best_col, mask=row_ok, other=0.0).to(tl.float32) * scale
        token_prob = tl.exp2(y_token - lse)
    tl.store(token_ptr + rows, best_col.to(tl.int64), mask=row_ok)
    tl.store(token_prob_ptr + rows, token_prob, mask=row_ok)
    tl.store(top1_ptr + rows, top1_prob, mask=row_ok)
    tl.store(top2_ptr + rows, tl.exp2(top2 - lse), mask=row_ok)
    tl.store(argmax_ptr + rows, top1_col.to(tl.int64), mask=row_ok)
    if WITH_ENTROPY:
        tl.store(entropy_ptr + rows, 0.6931471805599453 * (log2_s - ent / s), mask=row_ok)


def draw_seed(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """A fresh 62-bit Philox key, (1,) int64 on `device`, from `generator` (or torch's default
    RNG there). It stays a tensor: the kernel reads it, so no sampling step waits on the host."""
    where = generator.device if generator is not None else device
    return torch.randint(0, 2**62, (1,), generator=generator, device=where).to(device)


def gumbel_sample_triton(
    logits: torch.Tensor,
    mask_id: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    with_entropy: bool = False,
    seed: int | None = None,
    n_rounds: int = 10,
) -> SampleOutput:
    """Fused Triton version of `gumbel_sample_reference` (same arguments and outputs).

    `seed` fixes the Philox key directly (else one is drawn from `generator`); the same key gives
    the same tokens whatever the number of rows per program. `n_rounds` is Philox's round count.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    lead = logits.shape[:-1]
    x = as_rows(logits, "logits")
    R, V = x.shape
    greedy = temperature == 0
    dev = x.device
    if greedy:
        key = None
    elif seed is None:
        key = draw_seed(generator, dev)
    else:
        key = torch.tensor([seed], dtype=torch.long, device=dev)
    token = torch.empty(R, dtype=torch.long, device=dev)
    argmax = torch.empty(R, dtype=torch.long, device=dev)
    token_prob, top1, top2 = (torch.empty(R, dtype=torch.float32, device=dev) for _ in range(3))
    entropy = torch.empty(R, dtype=torch.float32, device=dev) if with_entropy else token_prob
    if R > 0:
        block_r, block_v, warps = tile_shape(R, V, INTERPRETED)
        _gumbel_sample_kernel[(triton.cdiv(R, block_r),)](
            x, token, token_prob, top1, top2, argmax, entropy,
            R, V, x.stride(0), int(mask_id), LOG2E / (1.0 if greedy else float(temperature)),
            key, GREEDY=greedy, WITH_ENTROPY=with_entropy, ONE_TILE=V <= block_v,
            N_ROUNDS=n_rounds, BLOCK_R=block_r, BLOCK_V=block_v, num_warps=warps)
    shape = lambda t: t.view(lead)  # noqa: E731
    return SampleOutput(shape(token), shape(token_prob), shape(top1), shape(top2), shape(argmax),
                        shape(entropy) if with_entropy else None)
