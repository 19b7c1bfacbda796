"""Noise schedules alpha(t): the probability that a token is still clean at time t in [0, 1].

Each schedule gives alpha(t), its derivative alpha'(t), its inverse (`time_at`) and the
continuous-time ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)). For a time-agnostic denoiser
every schedule gives the same ELBO (substitute a = alpha(t) in the integral); only the variance of
its Monte Carlo estimate changes. That fact is tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Schedule", "Linear", "Cosine", "LogLinear", "Polynomial", "get_schedule",
           "resolve_schedule", "SCHEDULES"]


class Schedule:
    """Base class: subclasses define `alpha`, `alpha_prime` and `time_at_mask_prob` on tensors."""

    name = "base"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def alpha_prime(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mask_prob(self, t: torch.Tensor) -> torch.Tensor:
        """1 - alpha(t): the probability that a token is masked at time t."""
        return 1.0 - self.alpha(t)

    def time_at_mask_prob(self, p: torch.Tensor) -> torch.Tensor:
        """The time t in [0, 1] at which 1 - alpha(t) = p (the inverse of `mask_prob`)."""
        raise NotImplementedError

    def time_at(self, alpha: torch.Tensor) -> torch.Tensor:
        """The time t in [0, 1] at which alpha(t) = alpha (the inverse of `alpha`)."""
        return self.time_at_mask_prob(1.0 - alpha)

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)) (= 1/t for the linear schedule)."""
        return -self.alpha_prime(t) / (1.0 - self.alpha(t)).clamp_min(1e-12)

    def unmask_prob(self, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Probability that a position masked at time t is clean at time s < t."""
        a_t, a_s = self.alpha(t), self.alpha(s)
        return ((a_s - a_t) / (1.0 - a_t).clamp_min(1e-12)).clamp(0.0, 1.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Schedule):
    """alpha(t) = 1 - t; w(t) = 1/t."""

    name = "linear"

    def alpha(self, t):
        return 1.0 - t

    def alpha_prime(self, t):
        return torch.full_like(t, -1.0)

    def time_at_mask_prob(self, p):
        return p.clamp(0.0, 1.0)


class Cosine(Schedule):
    """alpha(t) = cos(pi t / 2)."""

    name = "cosine"

    def alpha(self, t):
        return torch.cos(0.5 * math.pi * t)

    def alpha_prime(self, t):
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def time_at_mask_prob(self, p):
        # 1 - cos(pi t / 2) = 2 sin^2(pi t / 4): accurate for small p, unlike arccos(1 - p).
        return (4.0 / math.pi) * torch.asin(torch.sqrt(p.clamp(0.0, 1.0) / 2.0))


@dataclass(repr=True)
class LogLinear(Schedule):
    """alpha(t) = 1 - (1 - eps) t: never fully masked, so log alpha stays finite (MDLM/SEDD)."""

    eps: float = 1e-3
    name = "log-linear"

    def __post_init__(self):
        if not 0.0 <= self.eps < 1.0:
            raise ValueError(f"LogLinear eps must lie in [0, 1), got {self.eps}")

    def alpha(self, t):
        return 1.0 - (1.0 - self.eps) * t

    def alpha_prime(self, t):
        return torch.full_like(t, -(1.0 - self.eps))

    def time_at_mask_prob(self, p):
        # Mask probabilities above 1 - eps are never reached; they map to t = 1.
        return (p / (1.0 - self.eps)).clamp(0.0, 1.0)


@dataclass(repr=True)
class Polynomial(Schedule):
    """alpha(t) = 1 - t^k; w(t) = k / t. k > 1 keeps tokens clean longer, k < 1 masks early."""

    power: float = 2.0
    name = "polynomial"

    def __post_init__(self):
        if not self.power > 0:
            raise ValueError(f"Polynomial power must be > 0, got {self.power}")

    def alpha(self, t):
        return 1.0 - t.pow(self.power)

    def alpha_prime(self, t):
        return -self.power * t.pow(self.power - 1.0)

    def time_at_mask_prob(self, p):
        return p.clamp(0.0, 1.0).pow(1.0 / self.power)


SCHEDULES = {"linear": Linear, "cosine": Cosine, "log-linear": LogLinear, "polynomial": Polynomial}


def get_schedule(name: str | Schedule, **kwargs) -> Schedule:
    """Build a schedule from its name ("linear", "cosine", "log-linear", "polynomial")."""
    if isinstance(name, Schedule):
        return name
    key = str(name).lower().replace("_", "-")
    if key == "loglinear":
        key = "log-linear"
    if key not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[key](**kwargs)


def resolve_schedule(schedule: str | Schedule | None, default: str | Schedule) -> Schedule:
    """`schedule` (a Schedule or its name) as a Schedule, or `default` when it is None."""
    return get_schedule(default if schedule is None else schedule)
