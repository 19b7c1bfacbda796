"""Latent policies: how the VMD latent z of the block being decoded is drawn at each step.

A policy is `draw(step, prior, posterior)`: `prior()` draws z from the model's prior and
`posterior()` from its encoder on the current best guess of x0 (masked positions filled with the
last argmax) and the mask pattern; it returns the draw, or None to keep the current z. Register a
new one with `@register_z_policy(name)`.

- `fixed`: a prior draw when the block starts, kept for all its steps (the VMD paper);
- `resample`: a fresh prior draw every step (VADD);
- `prior`: the same, but only with a learned prior p(z | xt);
- `posterior`: the encoder on the current best guess (a prior draw at the first step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models import Layout, MaskedDiffusionModel

__all__ = ["ZPolicy", "Z_POLICIES", "register_z_policy", "BlockLatents"]

Draw = Callable[[], "torch.Tensor | None"]  # z (B, blocks, d_z), or None for a model without one
DrawFn = Callable[[int, Draw, Draw], "torch.Tensor | None"]


@dataclass(frozen=True)
class ZPolicy:
    """A registered latent policy. needs_guess: the decoder must track the argmax of every masked
    position (for `posterior()`); needs_learned_prior: refuse models with a fixed N(0, I) prior."""

    draw: DrawFn
    needs_guess: bool = False
    needs_learned_prior: bool = False


Z_POLICIES: dict[str, ZPolicy] = {}


def register_z_policy(name: str, *, needs_guess: bool = False, needs_learned_prior: bool = False):
    """Decorator registering `draw(step, prior, posterior)` as the latent policy `name`."""
    def add(draw: DrawFn) -> DrawFn:
        Z_POLICIES[name] = ZPolicy(draw, needs_guess, needs_learned_prior)
        return draw
    return add


@register_z_policy("fixed")
def fixed(step, prior, posterior):
    return prior() if step == 0 else None


@register_z_policy("resample")
def resample(step, prior, posterior):
    return prior()


@register_z_policy("prior", needs_learned_prior=True)
def learned_prior(step, prior, posterior):
    return prior()


@register_z_policy("posterior", needs_guess=True)
def from_posterior(step, prior, posterior):
    return prior() if step == 0 else posterior()


class BlockLatents:
    """The latents of one decoding run, z: (B, num_blocks, d_z) (None for a model without one),
    updated block by block according to a policy."""

    def __init__(self, model: MaskedDiffusionModel, policy: str, generator: torch.Generator | None,
                 temperature: float, cache=None):
        self.model, self.generator, self.temperature = model, generator, temperature
        self.cache = cache  # the decoder's KV cache, whose `prior` part a learned prior reads
        self.policy = Z_POLICIES[policy]
        self.z = None
        if self.policy.needs_learned_prior and model.prior_net is None:
            raise ValueError(f"z_policy {policy!r} needs a model trained with a learned prior "
                             "(ModelConfig.prior='learned'); use 'fixed' or 'resample'")

    def for_step(self, layout: Layout, block: int, step: int, x: torch.Tensor,
                 argmax: torch.Tensor) -> torch.Tensor | None:
        """z for denoising `block` at `step`; x: (B, L) current tokens, argmax: (B, L) last argmax
        predictions at masked positions (read only by policies that need a guess)."""
        def prior():
            return self.model.sample_prior(layout, self.generator, self.temperature, self.cache)

        def posterior():
            masked = x == self.model.mask_id
            guess = torch.where(masked, argmax, x)
            return self.model.sample_posterior(guess, masked, self.generator, self.temperature)

        draw = self.policy.draw(step, prior, posterior)  # (B, blocks, d_z) or None
        if draw is not None:
            if self.z is None:
                self.z = draw.new_zeros(x.shape[0], self.model.config.num_blocks, draw.shape[-1])
            self.z[:, block] = draw[:, block]
        return self.z
