"""Quality of generated text, beside likelihood: generative perplexity under an autoregressive
judge, and the entropy of the samples' tokens.

- `generative_perplexity(judge, samples)`: exp of the judge's mean negative log-likelihood per
  token of the samples. The judge is one of the project's own autoregressive models (block size
  1), whose likelihood is exact (its ELBO at t = 1 is the chain rule), so on held-out real text the
  number equals the judge's test perplexity.
- `token_entropy(samples)`: the entropy (nats) of each sample's token distribution, averaged over
  samples. Repetitive text has a low one and can reach a low generative perplexity: report both.

Sums are taken in float64 so that the many small per-token terms do not lose precision.
"""

from __future__ import annotations

import math

import torch

from maskdiff import diffusion_loss
from maskdiff.models import MaskedDiffusionModel

__all__ = ["generative_perplexity", "token_entropy"]


@torch.no_grad()
def generative_perplexity(judge: MaskedDiffusionModel, samples: torch.Tensor,
                          batch_size: int = 64) -> float:
    """exp(mean -log p_judge(x^i | x^<i)) over every token of `samples` (N, L)."""
    cfg = judge.config
    if cfg.block_size != 1 or not cfg.reads_xt_only:
        raise ValueError("the judge must be an autoregressive model (block_size 1, no latent, no "
                         "time input), whose likelihood is exact")
    if samples.dim() != 2 or samples.shape[1] != cfg.seq_len:
        raise ValueError(f"samples must be (N, {cfg.seq_len}) for this judge, got "
                         f"{tuple(samples.shape)}")
    was_training = judge.training
    judge.eval()
    device = next(judge.parameters()).device
    total = 0.0
    for i in range(0, len(samples), batch_size):
        x0 = samples[i:i + batch_size].to(device)
        # An AR judge reads xt alone, so its schedule only weights the loss: under the linear
        # schedule at t = 1 every token is masked with weight 1, and the loss is the exact
        # chain-rule NLL per token, whatever schedule the judge was trained with.
        nll = diffusion_loss(judge, x0, "linear", t=torch.ones(len(x0), device=device)).bound
        total += float(nll.double()) * x0.numel()
    judge.train(was_training)
    return math.exp(total / samples.numel())


def token_entropy(samples: torch.Tensor, vocab_size: int) -> float:
    """Mean over samples of the entropy (nats) of the sample's own token frequencies."""
    if samples.dim() != 2 or samples.shape[1] == 0:
        raise ValueError(f"samples must be (N, L) with L >= 1, got {tuple(samples.shape)}")
    counts = torch.zeros(len(samples), vocab_size, dtype=torch.float64)
    counts.scatter_add_(1, samples.long(), torch.ones_like(samples, dtype=torch.float64))
    p = counts / counts.sum(-1, keepdim=True)
    entropy = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(-1)
    return float(entropy.mean())
