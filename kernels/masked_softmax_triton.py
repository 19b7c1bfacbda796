"""Fused masked log-softmax with SUBS semantics (Triton), forward and backward.

Forward, per row: the [MASK] column is -inf; one online pass (running max, rescaled sum, float32,
exp2) gives the log-normaliser, a second pass writes log p = x - lse. Rows whose current token is
already clean are carry-over (log p = 0 at the token, -inf elsewhere): their logits are never
read. Backward: d x = g - p * sum(g) over the non-mask columns of masked rows, 0 elsewhere (the
mask column and carried rows are constants), written once in the logits' dtype.
"""

from __future__ import annotations

import torch

from .online_softmax import row_log2_normaliser
from .triton_support import INTERPRETED, as_rows, tile_shape, tl, triton

__all__ = ["masked_log_softmax_triton"]


@triton.jit
def _masked_log_softmax_fwd(
    logits_ptr, xt_ptr, out_ptr, lse_ptr, n_rows, vocab, stride_row, mask_id,
    HAS_XT: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    offset = rows.to(tl.int64) * stride_row
    out_offset = rows.to(tl.int64) * vocab
    local = tl.arange(0, BLOCK_V)
    neg_inf = float("-inf")
    if HAS_XT:
        token = tl.load(xt_ptr + rows, mask=row_ok, other=mask_id).to(tl.int32)
        active = row_ok & (token == mask_id)
    else:
        token = tl.zeros([BLOCK_R], tl.int32)
        active = row_ok

    m, s = row_log2_normaliser(logits_ptr, offset, active, vocab, mask_id, BLOCK_R, BLOCK_V)
    lse = tl.where(active, (m + tl.log2(tl.where(active, s, 1.0))) * 0.6931471805599453, 0.0)
    tl.store(lse_ptr + rows, lse, mask=row_ok)

    for start in range(0, vocab, BLOCK_V):
        cols = start + local
        in_row = row_ok[:, None] & (cols < vocab)[None, :]
        x = tl.load(logits_ptr + offset[:, None] + cols[None, :],
                    mask=in_row & active[:, None], other=0.0).to(tl.float32)
        logp = tl.where(cols[None, :] == mask_id, neg_inf, x - lse[:, None])
        carried = tl.where(cols[None, :] == token[:, None], 0.0, neg_inf)
        logp = tl.where(active[:, None], logp, carried)
        tl.store(out_ptr + out_offset[:, None] + cols[None, :], logp, mask=in_row)


@triton.jit
def _masked_log_softmax_bwd(
    grad_ptr, logp_ptr, xt_ptr, dx_ptr, n_rows, vocab, mask_id,
    HAS_XT: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    offset = rows.to(tl.int64) * vocab
    local = tl.arange(0, BLOCK_V)
    if HAS_XT:
        token = tl.load(xt_ptr + rows, mask=row_ok, other=mask_id).to(tl.int32)
        active = row_ok & (token == mask_id)
    else:
        active = row_ok

    total = tl.zeros([BLOCK_R], tl.float32)
    for start in range(0, vocab, BLOCK_V):
        cols = start + local
        ok = active[:, None] & (cols < vocab)[None, :] & (cols[None, :] != mask_id)
        g = tl.load(grad_ptr + offset[:, None] + cols[None, :], mask=ok, other=0.0)
        total += tl.sum(g.to(tl.float32), 1)
    for start in range(0, vocab, BLOCK_V):
        cols = start + local
        in_row = row_ok[:, None] & (cols < vocab)[None, :]
        ok = in_row & active[:, None] & (cols[None, :] != mask_id)
        g = tl.load(grad_ptr + offset[:, None] + cols[None, :], mask=ok, other=0.0).to(tl.float32)
        logp = tl.load(logp_ptr + offset[:, None] + cols[None, :], mask=ok, other=float("-inf"))
        dx = tl.where(ok, g - tl.exp(logp) * total[:, None], 0.0)
        tl.store(dx_ptr + offset[:, None] + cols[None, :], dx.to(dx_ptr.dtype.element_ty),
                 mask=in_row)


class _MaskedLogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, mask_id, xt):
        lead = logits.shape
        x = as_rows(logits, "logits")
        R, V = x.shape
        xt_rows = None
        if xt is not None:
            if xt.numel() != R:
                raise ValueError(f"xt has {xt.numel()} tokens for {R} rows of logits")
            xt_rows = xt.reshape(R).contiguous()
        out = torch.empty((R, V), dtype=torch.float32, device=x.device)
        lse = torch.empty(R, dtype=torch.float32, device=x.device)
        if R > 0:
            block_r, block_v, warps = tile_shape(R, V, INTERPRETED)
            _masked_log_softmax_fwd[(triton.cdiv(R, block_r),)](
                x, xt_rows if xt_rows is not None else lse, out, lse, R, V, x.stride(0),
                int(mask_id), HAS_XT=xt_rows is not None, BLOCK_R=block_r, BLOCK_V=block_v,
                num_warps=warps)
        ctx.mask_id, ctx.dtype = int(mask_id), logits.dtype
        ctx.save_for_backward(out, xt_rows)
        return out.view(lead)

    @staticmethod
    def backward(ctx, grad_out):
        out, xt_rows = ctx.saved_tensors
        R, V = out.shape
        g = grad_out.reshape(R, V).contiguous()
        dx = torch.empty((R, V), dtype=ctx.dtype, device=out.device)
        if R > 0:
            block_r, block_v, warps = tile_shape(R, V, INTERPRETED)
            _masked_log_softmax_bwd[(triton.cdiv(R, block_r),)](
                g, out, xt_rows if xt_rows is not None else out, dx, R, V, ctx.mask_id,
                HAS_XT=xt_rows is not None, BLOCK_R=block_r, BLOCK_V=block_v, num_warps=warps)
        return dx.view(grad_out.shape), None, None


def masked_log_softmax_triton(logits: torch.Tensor, mask_id: int,
                              xt: torch.Tensor | None = None) -> torch.Tensor:
    """Fused Triton version of `masked_log_softmax_reference` (same arguments, float32 output),
    differentiable with respect to `logits`."""
    return _MaskedLogSoftmax.apply(logits, mask_id, xt)
