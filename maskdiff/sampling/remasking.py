"""Remasking: committed tokens that go back to [MASK] before a denoiser call, so that the call
predicts them again with everything decoded since (ReMDM, Wang et al. 2025; Ye et al.'s Sudoku
decoder re-predicts and re-masks its least confident cells).

A strategy is `pick(confidence, committed, k, generator) -> (B, b) bool`: `confidence` (B, b) is
the probability each committed token had when it was committed, `committed` (B, b) marks the
generated tokens that may be re-masked (never conditioning), k (B,) how many to re-mask per row.
Register a new one with `@register_remask(name)`.

- `confidence`: the k committed tokens with the lowest commit-time confidence (ReMDM-conf);
- `random`: k committed tokens drawn uniformly.

Remasking happens before every call but the block's last, so the exact budget still holds: the
commit rule counts re-masked tokens as not yet decoded and the last call commits what is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["REMASKS", "register_remask"]

PickFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Generator | None"], torch.Tensor]

REMASKS: dict[str, PickFn] = {}


def register_remask(name: str):
    """Decorator registering `pick(confidence, committed, k, generator)` as the strategy `name`."""
    def add(pick: PickFn) -> PickFn:
        REMASKS[name] = pick
        return pick
    return add


def _lowest(score: torch.Tensor, committed: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, b) bool: the k[i] committed positions of row i with the lowest score."""
    score = torch.where(committed, score.double(), torch.full_like(score, math.inf, dtype=torch.float64))
    rank = score.argsort(dim=-1).argsort(dim=-1)
    return committed & (rank < k[:, None])


@register_remask("confidence")
def lowest_confidence(confidence, committed, k, generator):
    return _lowest(confidence, committed, k)


@register_remask("random")
def uniformly(confidence, committed, k, generator):
    # drawn where the generator lives (a seeded CPU generator may drive a model on the GPU)
    device = generator.device if generator is not None else committed.device
    u = torch.rand(committed.shape, generator=generator, device=device).to(committed.device)
    return _lowest(u, committed, k)
