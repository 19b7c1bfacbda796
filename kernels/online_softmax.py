"""The online log-normaliser shared by the softmax and loss kernels (a Triton device function)."""

from __future__ import annotations

from .triton_support import tl, triton

__all__ = ["row_log2_normaliser"]


@triton.jit
def row_log2_normaliser(logits_ptr, offset, active, vocab, mask_id,
                        BLOCK_R: tl.constexpr, BLOCK_V: tl.constexpr):
    """One pass over BLOCK_R rows: log2 of sum_j 2^(y_j) with y = logit * log2(e) and the mask
    column left out, as (running max m, rescaled sum s), so log2-normaliser = m + log2(s).

    offset: (BLOCK_R,) int64 element offsets of the rows; active: (BLOCK_R,) rows to read (the
    others are not loaded and keep m = -inf, s = 0). Float32 throughout, exp2 for speed."""
    neg_inf = float("-inf")
    local = tl.arange(0, BLOCK_V)
    m = tl.full([BLOCK_R], neg_inf, tl.float32)
    s = tl.zeros([BLOCK_R], tl.float32)
    for start in range(0, vocab, BLOCK_V):
        cols = start + local
        ok = active[:, None] & (cols < vocab)[None, :]
        y = tl.load(logits_ptr + offset[:, None] + cols[None, :], mask=ok, other=neg_inf)
        y = tl.where(cols[None, :] == mask_id, neg_inf, y.to(tl.float32) * 1.4426950408889634)
        m_new = tl.maximum(m, tl.max(y, 1))
        m_safe = tl.where(m_new == neg_inf, 0.0, m_new)  # a row that has seen only -inf so far
        s = s * tl.exp2(m - m_safe) + tl.sum(tl.exp2(y - m_safe[:, None]), 1)
        m = m_new
    return m, s
