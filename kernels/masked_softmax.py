"""Masked log-softmax with SUBS semantics (PyTorch reference)."""

from __future__ import annotations

import torch

__all__ = ["masked_log_softmax_reference"]


def masked_log_softmax_reference(logits: torch.Tensor, mask_id: int,
                                 xt: torch.Tensor | None = None) -> torch.Tensor:
    """log p over the vocabulary with the [MASK] column forced to -inf, in float32.

    logits: (R, V) in any float dtype. xt: optional (R,) current tokens; a row whose token is not
    [MASK] is carried over (log-prob 0 at its token, -inf elsewhere), as SUBS prescribes.
    """
    x = logits.float().clone()
    x[..., mask_id] = float("-inf")
    logp = torch.log_softmax(x, dim=-1)
    if xt is not None:
        clean = xt != mask_id
        if clean.any():
            carry = torch.full_like(logp[clean], float("-inf"))
            carry.scatter_(-1, xt[clean].unsqueeze(-1), 0.0)
            logp[clean] = carry
    return logp
