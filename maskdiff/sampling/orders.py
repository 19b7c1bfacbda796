"""Ranking rules for confidence decoding: which masked positions commit first.

An order scores every masked position of a step from the sampler's output (higher commits first).
Register a new one with `@register_order(name)`; it is then accepted everywhere an order is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import kernels

__all__ = ["Order", "ORDERS", "register_order"]

# out: the sampler's output for the R masked positions of a step; returns scores (R,).
ScoreFn = Callable[[kernels.SampleOutput, "torch.Generator | None"], torch.Tensor]


@dataclass(frozen=True)
class Order:
    """A registered ranking rule. needs_entropy: the sampler must compute each row's entropy."""

    score: ScoreFn
    needs_entropy: bool = False


ORDERS: dict[str, Order] = {}


def register_order(name: str, *, needs_entropy: bool = False):
    """Decorator registering `score(out, generator) -> (R,)` as the order `name`."""
    def add(score: ScoreFn) -> ScoreFn:
        ORDERS[name] = Order(score, needs_entropy)
        return score
    return add


@register_order("random")
def random_order(out, generator):
    """Uniformly random order (the vanilla MDM sampler)."""
    return torch.rand(out.token.shape, generator=generator, device=out.token.device)


@register_order("top-prob")
def top_prob(out, generator):
    """The most probable prediction first: max_j p(x^i = j)."""
    return out.top1_prob


@register_order("top-prob-margin")
def top_prob_margin(out, generator):
    """The largest gap between the two most probable tokens first (Kim et al. 2025)."""
    return out.margin


@register_order("entropy", needs_entropy=True)
def lowest_entropy(out, generator):
    """The lowest-entropy prediction first."""
    return -out.entropy
