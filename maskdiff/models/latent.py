"""The VMD latent: diagonal Gaussians, the encoder q(z | x0, xt), the learned prior p(z | xt) and
a learned mixture-of-Gaussians prior p(z).

z holds one vector per block (one per sequence when the block is the whole sequence), so every
distribution here has shape (B, num_blocks, latent_dim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .transformer import Trunk

__all__ = ["DiagonalGaussian", "GaussianMixture", "LatentEncoder", "LearnedPrior", "MixturePrior",
           "latent_kl", "pool_blocks"]

_LOG_2PI = math.log(2 * math.pi)


def _normal_noise(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard-normal noise shaped like `like`, drawn on the generator's device (so a seeded CPU
    generator also drives a model on the GPU) and moved to `like`'s."""
    device = generator.device if generator is not None else like.device
    noise = torch.randn(like.shape, generator=generator, device=device, dtype=like.dtype)
    return noise.to(like.device)


@dataclass
class DiagonalGaussian:
    """N(mean, diag(exp(logvar))), both (..., latent_dim)."""

    mean: torch.Tensor
    logvar: torch.Tensor

    @classmethod
    def standard(cls, shape, device=None, dtype=torch.float32) -> DiagonalGaussian:
        zeros = torch.zeros(shape, device=device, dtype=dtype)
        return cls(zeros, zeros.clone())

    @classmethod
    def from_params(cls, params: torch.Tensor) -> DiagonalGaussian:
        mean, logvar = params.chunk(2, dim=-1)
        # Bounded log-variance keeps exp() finite early in training.
        return cls(mean, logvar.clamp(-16.0, 8.0))

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Reparameterised draw mean + temperature * sigma * eps (temperature < 1 stays nearer the
        mode, the usual reduced-temperature sampling of latent-variable models)."""
        return self.reparameterise(_normal_noise(self.mean, generator), temperature)

    def reparameterise(self, eps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """mean + temperature * sigma * eps for standard-normal noise eps of the same shape."""
        return self.mean + temperature * torch.exp(0.5 * self.logvar) * eps.to(self.mean.dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mean, var) summed over the latent dimension: (...,)."""
        return -0.5 * (_LOG_2PI + self.logvar + (z - self.mean) ** 2 / self.logvar.exp()).sum(-1)

    def kl(self, other: DiagonalGaussian) -> torch.Tensor:
        """Per-dimension analytic KL(self || other): (..., latent_dim)."""
        var_ratio = torch.exp(self.logvar - other.logvar)
        mean_term = (self.mean - other.mean) ** 2 / other.logvar.exp()
        return 0.5 * (var_ratio + mean_term - 1.0 - (self.logvar - other.logvar))

    def index_blocks(self, idx) -> DiagonalGaussian:
        return DiagonalGaussian(self.mean[:, idx], self.logvar[:, idx])


@dataclass
class GaussianMixture:
    """sum_k pi_k N(means_k, diag(exp(logvars_k))): logits (..., K), means and logvars
    (..., K, latent_dim). No closed-form KL: `latent_kl` estimates it by Monte Carlo."""

    logits: torch.Tensor
    means: torch.Tensor
    logvars: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """The mixture's mean (..., latent_dim)."""
        return (self.logits.softmax(-1)[..., None] * self.means).sum(-2)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (...,) for z (..., latent_dim)."""
        parts = DiagonalGaussian(self.means, self.logvars).log_prob(z[..., None, :])  # (..., K)
        return torch.logsumexp(self.logits.log_softmax(-1) + parts, dim=-1)

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """A component by its weight, then a draw from it (temperature scales its spread)."""
        flat = self.logits.reshape(-1, self.logits.shape[-1]).softmax(-1).float()
        if generator is not None:  # draw where the generator lives (a CPU one for a CUDA model)
            flat = flat.to(generator.device)
        pick = torch.multinomial(flat, 1, generator=generator).to(self.logits.device)
        pick = pick.view(self.logits.shape[:-1])
        pick = pick[..., None, None].expand(*self.logits.shape[:-1], 1, self.means.shape[-1])
        chosen = DiagonalGaussian(self.means.gather(-2, pick).squeeze(-2),
                                  self.logvars.gather(-2, pick).squeeze(-2))
        return chosen.sample(generator, temperature)


def latent_kl(q: DiagonalGaussian, p: DiagonalGaussian | GaussianMixture,
              z: torch.Tensor | None = None) -> torch.Tensor:
    """KL(q || p) per latent dimension (..., latent_dim) when p is Gaussian (exact); otherwise a
    one-sample Monte Carlo estimate log q(z) - log p(z) at z ~ q, as (..., 1) (z: that draw,
    reparameterised so that gradients flow; drawn here when None)."""
    if isinstance(p, DiagonalGaussian):
        return q.kl(p)
    z = q.sample() if z is None else z
    return (q.log_prob(z) - p.log_prob(z))[..., None]


class MixturePrior(nn.Module):
    """A learned mixture of `components` Gaussians over z for each block position: a prior that
    can put its mass where the posteriors are (clusters) instead of a single N(0, I) whose holes
    decode to nothing. Each block has its own mixture, so a block whose content the earlier blocks
    already fix (its posteriors carry nothing) does not pull the components of a block that
    carries the sequence's choices. Starts as equal-weight components around N(0, I)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        n, k, d = config.num_blocks, config.prior_components, config.latent_dim
        self.logits = nn.Parameter(torch.zeros(n, k))
        self.means = nn.Parameter(torch.randn(n, k, d))
        self.logvars = nn.Parameter(torch.zeros(n, k, d))

    def forward(self, batch_size: int, blocks: int) -> GaussianMixture:
        """The first `blocks` blocks' mixtures, for each of batch_size sequences."""
        return GaussianMixture(self.logits[:blocks].expand(batch_size, -1, -1),
                               self.means[:blocks].expand(batch_size, -1, -1, -1),
                               self.logvars[:blocks].clamp(-16.0, 8.0).expand(batch_size, -1, -1, -1))


def pool_blocks(h: torch.Tensor, block_size: int) -> torch.Tensor:
    """Mean over the positions of each block: (B, N, D) -> (B, N / block_size, D)."""
    B, N, D = h.shape
    return h.view(B, N // block_size, block_size, D).mean(dim=2)


class LatentEncoder(nn.Module):
    """q(z | x0, xt): a small transformer over x0 that also sees which positions xt masks.

    Seeing the mask pattern matters: an x0-only encoder cannot tell which tokens the decoder still
    needs and collapses (VADD). Output: one Gaussian per block, mean-pooled over the block.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.block_size = config.block_size
        self.trunk = Trunk(config.vocab_size + 1, config.seq_len, config.d_model,
                           config.encoder_layers, config.n_heads, config.mlp_ratio, config.dropout,
                           position_groups=config.position_groups)
        self.masked_emb = nn.Embedding(2, config.d_model)
        self.head = nn.Linear(config.d_model, 2 * config.latent_dim)

    def forward(self, x0: torch.Tensor, masked: torch.Tensor) -> DiagonalGaussian:
        positions = torch.arange(x0.shape[1], device=x0.device)
        h = self.trunk(x0, positions, extra=self.masked_emb(masked.long()))
        return DiagonalGaussian.from_params(self.head(pool_blocks(h, self.block_size)))


class LearnedPrior(nn.Module):
    """p(z | xt): reads the denoiser's own input layout, pooled over each noisy block.

    Its head starts at zero, so an untrained learned prior is exactly N(0, I).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.block_size = config.block_size
        self.trunk = Trunk(config.vocab_size + 1, config.seq_len, config.d_model,
                           config.prior_layers, config.n_heads, config.mlp_ratio, config.dropout,
                           position_groups=config.position_groups)
        self.head = nn.Linear(config.d_model, 2 * config.latent_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, tokens, positions, attn_mask, noisy_len: int, cache=None) -> DiagonalGaussian:
        """Gaussians for the blocks covering tokens[:, :noisy_len]: (B, noisy_len / b, d_z).
        With `cache` (the prior's own KV cache of the finished clean blocks), tokens hold only
        the block being decoded, which attends to the cache: p(z_k | x^<k, xt_k) for that block."""
        h = self.trunk(tokens, positions, attn_mask, cache=cache)[:, :noisy_len]
        return DiagonalGaussian.from_params(self.head(pool_blocks(h, self.block_size)))
