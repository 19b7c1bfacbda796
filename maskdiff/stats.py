"""Intervals for shares measured on a finite set (a test set's accuracy): the Wilson score
interval of one share and Newcombe's hybrid score interval of the difference of two
independent shares (Newcombe 1998, method 10), both at 95% by default."""

from __future__ import annotations

import math

__all__ = ["wilson", "share_difference"]


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
