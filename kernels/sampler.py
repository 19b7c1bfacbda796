"""Gumbel-max sampling that also returns the confidences the samplers rank by (PyTorch reference).

One pass over a (R, V) logits tensor yields the sampled token, its probability, the top-1 and
top-2 probabilities (margin = top1 - top2), the argmax and optionally the entropy: everything the
random / top-prob / top-prob-margin / entropy orderings need. Noise is drawn in float64: 32-bit
Gumbel noise truncates the tail of the distribution (Zheng et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SampleOutput", "gumbel_sample_reference"]


@dataclass
class SampleOutput:
    """All (R,): token (long), token_prob, top1_prob, top2_prob, argmax (long), entropy (or None).
    Probabilities are those of the temperature-scaled distribution (T = 1 when greedy)."""

    token: torch.Tensor
    token_prob: torch.Tensor
    top1_prob: torch.Tensor
    top2_prob: torch.Tensor
    argmax: torch.Tensor
    entropy: torch.Tensor | None = None

    @property
    def margin(self) -> torch.Tensor:
        return self.top1_prob - self.top2_prob


def gumbel_sample_reference(
    logits: torch.Tensor,
    mask_id: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    with_entropy: bool = False,
) -> SampleOutput:
    """Sample one token per row of logits (R, V), never the [MASK] id nor a -inf logit.

    temperature > 0 samples from softmax(logits / temperature) by Gumbel-max in float64;
    temperature == 0 returns the argmax (greedy) and no noise is drawn.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    x = logits.double().clone()
    x[..., mask_id] = float("-inf")
    if temperature > 0:
        x = x / temperature
    logp = torch.log_softmax(x, dim=-1)
    top2 = logp.topk(2, dim=-1)
    top1_prob, top2_prob = top2.values.exp().unbind(-1)
    argmax = top2.indices[..., 0]
    if temperature > 0:
        u = torch.rand(logp.shape, generator=generator, dtype=torch.float64, device=logp.device)
        gumbel = -torch.log(-torch.log(u))
        token = (logp + gumbel).argmax(dim=-1)
    else:
        token = argmax
    token_prob = logp.gather(-1, token[..., None]).squeeze(-1).exp()
    entropy = None
    if with_entropy:
        p = logp.exp()
        entropy = -(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum(-1)
    return SampleOutput(token, token_prob.float(), top1_prob.float(), top2_prob.float(), argmax,
                        None if entropy is None else entropy.float())
