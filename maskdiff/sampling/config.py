"""What a decoding run is asked to do (`SamplerConfig`) and what it returns (`SampleResult`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..schedules import get_schedule
from .latents import Z_POLICIES
from .methods import METHODS
from .orders import ORDERS

__all__ = ["SamplerConfig", "SampleResult"]


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
    prefix; not used with a learned prior, which reads the prefix).
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


@dataclass
class SampleResult:
    """tokens: (B, L) decoded ids (no [MASK] left); nfe: denoiser calls made for the batch."""

    tokens: torch.Tensor
    nfe: int
