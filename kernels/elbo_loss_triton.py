"""Fused ELBO-weighted cross-entropy over masked rows (Triton), gradient written in place.

Rows are masked positions only; per row: loss = w * (lse over non-mask columns - logit[target]).
When a gradient is needed, the same kernel makes a second pass over the row and writes
w * (softmax - onehot(target)) (0 at the mask column) into the logits buffer itself, in its dtype
(the Liger-kernel trick). Peak memory therefore stays at the one logits buffer: no float32 copy of
(rows, V) and no saved softmax. Backward only rescales that buffer by the incoming per-row grad.
"""

from __future__ import annotations

import torch

from .online_softmax import row_log2_normaliser
from .triton_support import INTERPRETED, as_rows, tile_shape, tl, triton

__all__ = ["elbo_cross_entropy_triton"]


@triton.jit
def _elbo_cross_entropy_kernel(
    logits_ptr, grad_ptr, targets_ptr, weights_ptr, loss_ptr,
    n_rows, vocab, stride_row, grad_stride_row, mask_id,
    HAS_WEIGHTS: tl.constexpr, WRITE_GRAD: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    offset = rows.to(tl.int64) * stride_row
    local = tl.arange(0, BLOCK_V)
    neg_inf = float("-inf")
    target = tl.load(targets_ptr + rows, mask=row_ok, other=0).to(tl.int32)
    if HAS_WEIGHTS:
        w = tl.load(weights_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    else:
        w = tl.full([BLOCK_R], 1.0, tl.float32)

    m, s = row_log2_normaliser(logits_ptr, offset, row_ok, vocab, mask_id, BLOCK_R, BLOCK_V)
    m = tl.where(row_ok, m, 0.0)
    lse2 = m + tl.log2(tl.where(row_ok, s, 1.0))
    # an invalid target (out of range, or the mask id) gives a NaN loss, never a stray read
    valid = row_ok & (target >= 0) & (target < vocab) & (target != mask_id)
    x_target = tl.load(logits_ptr + offset + target, mask=valid, other=float("nan"))
    x_target = x_target.to(tl.float32)
    loss = w * (lse2 * 0.6931471805599453 - x_target)
    tl.store(loss_ptr + rows, loss, mask=row_ok)

    if WRITE_GRAD:
        grad_offset = rows.to(tl.int64) * grad_stride_row
        for start in range(0, vocab, BLOCK_V):
            cols = start + local
            ok = row_ok[:, None] & (cols < vocab)[None, :]
            y = tl.load(logits_ptr + offset[:, None] + cols[None, :], mask=ok, other=neg_inf)
            p = tl.exp2(y.to(tl.float32) * 1.4426950408889634 - lse2[:, None])
            p = tl.where(cols[None, :] == mask_id, 0.0, p)
            g = w[:, None] * (p - tl.where(cols[None, :] == target[:, None], 1.0, 0.0))
            tl.store(grad_ptr + grad_offset[:, None] + cols[None, :],
                     g.to(grad_ptr.dtype.element_ty), mask=ok)


class _ElboCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, weights, mask_id, overwrite_logits, write_grad):
        x = as_rows(logits, "logits")
        R, V = x.shape
        if targets.numel() != R or (weights is not None and weights.numel() != R):
            raise ValueError(f"targets ({targets.numel()}) and weights "
                             f"({None if weights is None else weights.numel()}) must have one "
                             f"entry per row of logits ({R})")
        # The gradient goes into the logits buffer (each row is read before it is overwritten,
        # inside one program) unless the caller still needs the logits.
        grad = torch.empty_like(x) if (write_grad and not overwrite_logits) else x
        loss = torch.empty(R, dtype=torch.float32, device=x.device)
        if R > 0:
            block_r, block_v, warps = tile_shape(R, V, INTERPRETED)
            _elbo_cross_entropy_kernel[(triton.cdiv(R, block_r),)](
                x, grad, targets.reshape(R).contiguous(),
                weights.reshape(R).contiguous() if weights is not None else loss, loss,
                R, V, x.stride(0), grad.stride(0), int(mask_id),
                HAS_WEIGHTS=weights is not None, WRITE_GRAD=write_grad,
                BLOCK_R=block_r, BLOCK_V=block_v, num_warps=warps)
        if write_grad:
            ctx.save_for_backward(grad.detach())
            ctx.shape = logits.shape
            ctx.used = False
        return loss.view(logits.shape[:-1])

    @staticmethod
    def backward(ctx, grad_loss):
        if ctx.used:
            raise RuntimeError("the fused ELBO cross-entropy keeps one gradient buffer and "
                               "supports a single backward pass (no retain_graph)")
        ctx.used = True
        (grad,) = ctx.saved_tensors
        scale = grad_loss.reshape(-1, 1).float()  # multiplied in fp32, rounded once to the dtype
        return grad.mul_(scale).view(ctx.shape), None, None, None, None, None


def elbo_cross_entropy_triton(logits: torch.Tensor, targets: torch.Tensor, mask_id: int,
                              weights: torch.Tensor | None = None, *,
                              overwrite_logits: bool = True) -> torch.Tensor:
    """Fused Triton version of `elbo_cross_entropy_reference` (same arguments and result).

    With a gradient to compute and `overwrite_logits` (the default), the logits tensor is
    overwritten by its gradient during the forward pass: do not read it afterwards. Pass
    overwrite_logits=False to keep it (the gradient then takes a buffer of the same size).
    """
    # Decided here: inside Function.forward grad mode is always off.
    write_grad = torch.is_grad_enabled() and logits.requires_grad
    return _ElboCrossEntropy.apply(logits, targets, weights, mask_id, overwrite_logits,
                                   write_grad)
