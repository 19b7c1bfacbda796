"""Commit strategies: at each denoiser call, which masked positions of the block take the token
drawn for them. Register a new one with `@register_method(name)` on a `Method` subclass.

- `confidence`: commit the k best-ranked positions (ranked by an order), with k spread evenly over
  the block's steps so that every step commits at least one token and the last leaves no [MASK];
  with a threshold (adaptive decoding), also every position whose token is at least that likely;
- `ancestral`: each masked position unmasks with the reverse-process probability
  (alpha(s) - alpha(t)) / (1 - alpha(t)) on a uniform time grid, noise drawn in float64.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..kernels import SampleOutput
from ..schedules import Schedule
from .orders import ORDERS

if TYPE_CHECKING:
    from .config import SamplerConfig

__all__ = ["Method", "METHODS", "register_method", "commit_counts"]


class Method:
    """Decodes one block at a time in a given number of steps.

    `start_block` announces a block (n_masked: (B,) masked tokens per row); per step, `time` gives
    the time a time-conditioned model reads, (B,), and `commit` the positions to fill, (B, b).
    ranks_positions: whether the method ranks positions, so that a confidence threshold applies."""

    needs_entropy = False
    ranks_positions = False

    def __init__(self, config: SamplerConfig, schedule: Schedule, generator: torch.Generator | None):
        self.config, self.schedule, self.generator = config, schedule, generator
        self.token_temperature = config.temperature
        self.n_masked = self.steps = None

    def start_block(self, n_masked: torch.Tensor, steps: int) -> None:
        self.n_masked, self.steps = n_masked, steps

    def time(self, still_masked: torch.Tensor, step: int) -> torch.Tensor:
        raise NotImplementedError

    def commit(self, out: SampleOutput, still_masked: torch.Tensor, step: int) -> torch.Tensor:
        raise NotImplementedError


METHODS: dict[str, type[Method]] = {}


def register_method(name: str):
    """Class decorator registering a `Method` subclass as the sampling method `name`."""
    def add(cls: type[Method]) -> type[Method]:
        METHODS[name] = cls
        return cls
    return add


def commit_counts(n_masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Tokens to commit per step: (B,) masked counts -> (B, steps), rows summing to n_masked.

    Evenly spread: step s commits floor((s+1) n / S) - floor(s n / S), which is >= 1 whenever
    n >= S."""
    s = torch.arange(steps + 1, device=n_masked.device)
    edges = torch.div(s[None, :] * n_masked[:, None], steps, rounding_mode="floor")
    return edges[:, 1:] - edges[:, :-1]


@register_method("confidence")
class Confidence(Method):
    """Commit the best-ranked masked positions (by `config.order`, plus optional Gumbel noise of
    scale `config.score_noise` on the scores): at least `minimum` of them, and with
    `config.threshold` also every position whose token has at least that probability. The model
    reads the time at which the schedule's expected masked fraction equals the block's."""

    ranks_positions = True

    def __init__(self, config, schedule, generator):
        super().__init__(config, schedule, generator)
        self.order = ORDERS[config.order]
        self.needs_entropy = self.order.needs_entropy
        self.targets = None  # (B, steps + 1): tokens the fixed schedule has committed by each step

    def start_block(self, n_masked, steps):
        super().start_block(n_masked, steps)
        self.targets = torch.cat([torch.zeros_like(n_masked)[:, None],
                                  commit_counts(n_masked, steps).cumsum(-1)], dim=-1)

    def minimum(self, still_masked: torch.Tensor, step: int) -> torch.Tensor:
        """(B,) tokens this call must commit. "schedule": catch up with the fixed schedule (what
        is still masked counts as undecoded, re-masked tokens included), so the last call commits
        the rest; "one": one token, and the rest at the last call."""
        left = still_masked.sum(-1)
        if step == self.steps - 1:
            return left
        if self.config.min_per_call == "one":
            return left.clamp(max=1)
        done = self.n_masked - left
        return (self.targets[:, step + 1] - done).clamp(min=0)

    def time(self, still_masked, step):
        fraction = still_masked.sum(-1).float() / self.n_masked.clamp_min(1).float()
        return self.schedule.time_at_mask_prob(fraction)

    def commit(self, out, still_masked, step):
        B, b = still_masked.shape
        row_score = self.order.score(out, self.generator).double()  # (R,)
        if self.config.score_noise > 0:
            u = torch.rand(row_score.shape, generator=self.generator, dtype=torch.float64,
                           device=row_score.device)
            row_score = row_score + self.config.score_noise * -torch.log(-torch.log(u))
        score = torch.full((B, b), -math.inf, dtype=torch.float64, device=still_masked.device)
        score[still_masked] = row_score
        rank = score.argsort(dim=-1, descending=True).argsort(dim=-1)
        chosen = still_masked & (rank < self.minimum(still_masked, step)[:, None])
        if self.config.threshold is not None:
            sure = torch.zeros_like(still_masked)
            sure[still_masked] = out.token_prob >= self.config.threshold
            chosen |= sure
        return chosen


@register_method("ancestral")
class Ancestral(Method):
    """The reverse process on the uniform grid t = 1 - step / steps; the last step unmasks all.
    Tokens are drawn from the model (temperature 0 means 1 here: greedy has no meaning)."""

    def __init__(self, config, schedule, generator):
        super().__init__(config, schedule, generator)
        self.token_temperature = config.temperature or 1.0

    def time(self, still_masked, step):
        return torch.full((still_masked.shape[0],), 1.0 - step / self.steps,
                          device=still_masked.device)

    def commit(self, out, still_masked, step):
        t = torch.tensor(1.0 - step / self.steps, dtype=torch.float64)
        s = torch.tensor(1.0 - (step + 1) / self.steps, dtype=torch.float64)
        p = 1.0 if step == self.steps - 1 else float(self.schedule.unmask_prob(t, s))
        u = torch.rand(still_masked.shape, generator=self.generator, dtype=torch.float64,
                       device=still_masked.device)
        return still_masked & (u < p)
