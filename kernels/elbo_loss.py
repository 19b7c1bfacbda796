"""ELBO-weighted cross-entropy over masked rows (PyTorch reference)."""

from __future__ import annotations

import torch

__all__ = ["elbo_cross_entropy_reference"]


def elbo_cross_entropy_reference(logits: torch.Tensor, targets: torch.Tensor, mask_id: int,
                                 weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-row w * (logsumexp over non-mask logits - logit[target]), float32, shape (R,).

    logits: (R, V) rows of masked positions only; targets: (R,) clean tokens x0 (never mask_id);
    weights: (R,) ELBO weights w(t) or None for 1.
    """
    x = logits.float()
    col = torch.arange(x.shape[-1], device=x.device)
    x = x.masked_fill(col == mask_id, float("-inf"))
    loss = torch.logsumexp(x, dim=-1) - x.gather(-1, targets[:, None]).squeeze(-1)
    return loss if weights is None else loss * weights
