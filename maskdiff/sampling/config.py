"""What a decoding run is asked to do (`SamplerConfig`) and what it returns (`SampleResult`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..schedules import get_schedule
from .latents import Z_POLICIES
from .methods import METHODS
from .orders import ORDERS
from .remasking import REMASKS

__all__ = ["SamplerConfig", "SampleResult", "MIN_PER_CALL"]

# "schedule": at least the fixed schedule's count so far; "one": at least one token per call.
MIN_PER_CALL = ("schedule", "one")


@dataclass
class SamplerConfig:
    """How to decode.

    nfe: total denoiser calls (None: one token per step). method: a registered commit strategy,
    "confidence" (commit the k best ranked positions each step) or "ancestral" (each masked
    position unmasks with the reverse process probability; noise drawn in float64). order: a
    registered ranking rule for "confidence". temperature: 0 commits the argmax, > 0 samples at
    that temperature. score_noise: scale of Gumbel noise added to the ranking scores. z_policy: a
    registered policy for the VMD latents; latent_temperature scales the standard deviation of
    the latent draws (1 = the model's prior). schedule: the noise schedule to decode with (None:
    the model's own, `ModelConfig.schedule`), which sets the ancestral time grid and the time a
    time-conditioned model reads. kv_cache: with several blocks, keep the keys/values of finished
    blocks so each denoiser call processes only the current block (same result as recomputing the
    prefix; a learned prior keeps its own cache of the finished blocks).

    Adaptive decoding (confidence method): threshold commits, at every call, each masked position
    whose token has at least that probability, on top of a minimum per call: min_per_call
    "schedule" is the fixed schedule's count so far (never more calls than the budget, and a
    threshold that is never met gives the fixed schedule), "one" is one token per call with nfe
    as a cap (Fast-dLLM's unbudgeted form). Rows that finish early stop counting calls. remask: a
    registered remasking strategy ("confidence", "random") that sends `remask_share` (rounded
    down) of the block's committed tokens back to [MASK] before each call but the last, in rows
    still decoding; re-masked tokens must be decoded again, so remasking spends calls.
    """

    nfe: int | None = None
    method: str = "confidence"
    order: str = "top-prob-margin"
    temperature: float = 0.0
    score_noise: float = 0.0
    z_policy: str = "fixed"
    latent_temperature: float = 1.0
    schedule: str | None = None
    kv_cache: bool = True
    threshold: float | None = None
    min_per_call: str = "schedule"
    remask: str | None = None
    remask_share: float = 0.1

    def __post_init__(self):
        for field, value, registry in (("sampling method", self.method, METHODS),
                                       ("order", self.order, ORDERS),
                                       ("z policy", self.z_policy, Z_POLICIES)):
            if value not in registry:
                raise ValueError(f"unknown {field} {value!r}; choose one of {tuple(registry)}")
        if self.nfe is not None and (not isinstance(self.nfe, int) or self.nfe < 1):
            raise ValueError(f"nfe must be an integer >= 1 (or None for one token per step), "
                             f"got {self.nfe!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not self.latent_temperature > 0:
            raise ValueError(f"latent_temperature must be > 0, got {self.latent_temperature}")
        if self.score_noise < 0:
            raise ValueError(f"score_noise must be >= 0, got {self.score_noise}")
        if self.schedule is not None:
            get_schedule(self.schedule)
        if self.threshold is not None:
            if not 0 < self.threshold <= 1:
                raise ValueError(f"threshold must lie in (0, 1], got {self.threshold}")
            if not METHODS[self.method].ranks_positions:
                raise ValueError(f"threshold needs a method that ranks positions (confidence), "
                                 f"not {self.method!r}")
        if self.min_per_call not in MIN_PER_CALL:
            raise ValueError(f"unknown min_per_call {self.min_per_call!r}; choose one of {MIN_PER_CALL}")
        if self.min_per_call == "one" and self.threshold is None:
            raise ValueError("min_per_call 'one' (one token per call, nfe as a cap) needs a threshold")
        if self.remask is not None and self.remask not in REMASKS:
            raise ValueError(f"unknown remask strategy {self.remask!r}; choose one of {tuple(REMASKS)}")
        if not 0 < self.remask_share <= 1:
            raise ValueError(f"remask_share must lie in (0, 1], got {self.remask_share}")


@dataclass
class SampleResult:
    """What a decoding run produced and what it cost.

    tokens: (B, L) decoded ids (no [MASK] left); nfe: denoiser calls made for the batch;
    nfe_per_sequence: (B,) calls made while the row still had [MASK]s in the block being decoded
    (at most nfe); commits: (B,) tokens committed per row, re-commits after remasking included;
    confidence: (B, L) probability of each generated token when it was last committed (NaN at
    conditioning positions); seconds: wall time of the run; denoiser_seconds: the part spent in
    denoiser calls (on a GPU without synchronisation, so only indicative there)."""

    tokens: torch.Tensor
    nfe: int
    nfe_per_sequence: torch.Tensor
    commits: torch.Tensor
    confidence: torch.Tensor
    seconds: float = 0.0
    denoiser_seconds: float = 0.0

    def nfe_histogram(self) -> dict[int, int]:
        """{calls: sequences that used that many}, in increasing order of calls."""
        values, counts = self.nfe_per_sequence.unique(return_counts=True)
        return dict(zip(values.tolist(), counts.tolist()))

    @property
    def tokens_per_call(self) -> float:
        """Committed tokens per denoiser call of a sequence (all commits over all per-sequence
        calls of the batch)."""
        if int(self.nfe_per_sequence.sum()) == 0:
            return float("nan")
        return float(self.commits.sum()) / float(self.nfe_per_sequence.sum())
