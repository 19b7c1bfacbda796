"""Intervals for shares measured on a finite set (a test set's accuracy): the Wilson score
interval of one share, and Newcombe's hybrid score intervals of the difference of two shares,
for independent samples (Newcombe 1998a, method 10) and for two methods scored on the same
items (paired; Newcombe 1998b, method 10), all at 95% by default."""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["wilson", "share_difference", "paired_share_difference"]


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of successes / total."""
    if total <= 0:
        return (0.0, 1.0)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share_difference(k1: int, n1: int, k2: int, n2: int,
                     z: float = 1.96) -> tuple[float, float, float]:
    """(p1 - p2, low, high): the difference of two independent shares with Newcombe's interval."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"both shares need at least one trial, got n1={n1}, n2={n2}")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return p1 - p2, max(-1.0, low), min(1.0, high)


def paired_share_difference(first, second, z: float = 1.96) -> tuple[float, float, float]:
    """(p1 - p2, low, high) for two methods scored on the same items: `first` and `second` are
    per-item outcomes (truthy = right), in the same item order. Newcombe's paired interval
    combines the two Wilson intervals with the phi correlation of the outcomes, so models that
    solve the same puzzles get a narrower interval than independent samples would."""
    if isinstance(first, str) or isinstance(second, str):
        raise TypeError("paired outcomes are sequences of truth values, not strings (parse a "
                        "'0'/'1' string first: [c == '1' for c in s])")
    first, second = [bool(x) for x in first], [bool(x) for x in second]
    if len(first) != len(second):
        raise ValueError(f"paired outcomes need the same items, got {len(first)} and "
                         f"{len(second)} outcomes")
    n = len(first)
    if n == 0:
        raise ValueError("paired outcomes need at least one item")
    table = Counter(zip(first, second))  # (first right, second right) -> items
    both, first_only = table[True, True], table[True, False]
    second_only, neither = table[False, True], table[False, False]
    k1, k2 = both + first_only, both + second_only
    p1, p2 = k1 / n, k2 / n
    l1, u1 = wilson(k1, n, z)
    l2, u2 = wilson(k2, n, z)
    margins = k1 * (n - k1) * k2 * (n - k2)
    # phi: the correlation of the two outcomes, a positive association shrunk by n/2 (Newcombe's
    # correction in method 10); 0 where a margin is empty
    association = both * neither - first_only * second_only
    if association > 0:
        association = max(association - n / 2, 0.0)
    phi = association / math.sqrt(margins) if margins else 0.0
    below = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    above = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    diff = p1 - p2
    return diff, max(-1.0, diff - math.sqrt(max(below, 0.0))), min(1.0, diff + math.sqrt(max(above, 0.0)))
