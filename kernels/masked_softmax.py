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
    x = logits.float()
    col = torch.arange(x.shape[-1], device=x.device)
    logp = torch.log_softmax(x.masked_fill(col == mask_id, float("-inf")), dim=-1)
    if xt is not None:
        carried = torch.where(col == xt[..., None], 0.0, float("-inf"))
        logp = torch.where((xt != mask_id)[..., None], carried, logp)  # differentiable
    return logp
