"""What a VMD latent carries: KL per dimension and block, active units, mutual information and a
swap test.

All quantities are taken at the state decoding starts from: every position that may be masked
is masked (the whole sequence for unconditional generation; a Sudoku puzzle's blanks), with the
clean context of earlier blocks for Block-VMD, exactly as in training at t = 1.

- KL(q(z | x0) || p(z)) per latent dimension and per block (nats, mean over sequences): what the
  bound pays for the latent (for a mixture prior, a Monte Carlo estimate per block only).
- Active units (Burda et al. 2016): dimension d is active when Cov_x(E_q[z_d]) > 0.01, i.e. its
  posterior mean moves with the data.
- Mutual information I(x0; z) under the aggregate posterior q(z) = E_x q(z | x) (Hoffman &
  Johnson 2016), per block: E_x E_{z~q(z|x)} [log q(z|x) - log (1/N sum_j q(z|x_j))], estimated
  on the N sequences given (it cannot exceed log N).
- Swap test: one denoiser call from the start state of sequence i with the posterior mean of
  sequence j (the "donor"); how often the argmax equals the donor's token, against the same
  with the prior mean (the chance that a token matches the donor anyway). "follows z" is the
  difference: 0 when the decoder ignores z or the encoder says nothing, near 1 when z alone
  decides the output. The reconstruction with each sequence's own posterior mean is reported
  beside it. With conditioning (a Sudoku puzzle's givens), the donor's tokens are scored at the
  sequence's own decoded positions under its own givens, so "follows z" is then a lower bound on
  how much the output moves with z; read it beside I(x0; z).

A model whose encoder returns its prior scores exactly zero on every one of these.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .models import DiagonalGaussian, MaskedDiffusionModel
from .models.latent import latent_kl

__all__ = ["LatentDiagnostics", "latent_diagnostics", "ACTIVE_THRESHOLD"]

ACTIVE_THRESHOLD = 0.01


@dataclass
class LatentDiagnostics:
    """kl_per_dim (d_z,): nats, mean over sequences and blocks (for a mixture prior, whose KL is
    estimated per block, one entry: the mean block total); kl_per_block (num_blocks,): nats,
    mean over sequences, summed over dimensions; kl: per sequence (all blocks); active_units:
    how many of `latent_dim` dimensions are active (in any block); mi_per_block and mi: nats
    (mi summed over blocks; at most log(sequences) per block); swap_*: token accuracies of one
    argmax call on the masked positions (own: against the sequence itself with its own
    posterior mean; donor: against the donor with the donor's mean; prior: against the donor
    with the prior mean)."""

    sequences: int
    latent_dim: int
    kl_per_dim: list[float]
    kl_per_block: list[float]
    kl: float
    active_units: int
    mi_per_block: list[float]
    mi: float
    swap_own: float
    swap_donor: float
    swap_prior: float

    @property
    def follows_z(self) -> float:
        """How far the decoder's output follows a swapped-in latent beyond chance."""
        return self.swap_donor - self.swap_prior

    def to_dict(self) -> dict:
        return {**asdict(self), "follows_z": self.follows_z}


@torch.no_grad()
def latent_diagnostics(model: MaskedDiffusionModel, x0: torch.Tensor,
                       maskable: torch.Tensor | None = None, *, seed: int = 0) -> LatentDiagnostics:
    """Diagnostics of `model`'s latent on sequences x0 (N, L) (maskable: (N, L) bool, False at
    conditioning positions). N >= 2; a few hundred sequences give stable numbers."""
    cfg = model.config
    if not cfg.is_vmd:
        raise ValueError("latent diagnostics need a VMD model (latent_dim > 0)")
    if x0.dim() != 2 or x0.shape[0] < 2 or x0.shape[1] != cfg.seq_len:
        raise ValueError(f"x0 must be (N >= 2, {cfg.seq_len}), got {tuple(x0.shape)}")
    device = next(model.parameters()).device
    x0 = x0.to(device)
    masked = (torch.ones_like(x0, dtype=torch.bool) if maskable is None
              else maskable.to(device).bool())
    was_training = model.training
    model.eval()
    try:
        return _diagnose(model, x0, masked, seed)
    finally:
        model.train(was_training)


def _diagnose(model: MaskedDiffusionModel, x0: torch.Tensor, masked: torch.Tensor,
              seed: int) -> LatentDiagnostics:
    cfg = model.config
    xt = torch.where(masked, torch.full_like(x0, cfg.mask_id), x0)
    layout = model.training_layout(xt, x0)
    q, p = model.posterior(x0, masked), model.prior(layout)
    generator = torch.Generator(device=x0.device).manual_seed(seed)
    kl = latent_kl(q, p, q.sample(generator))  # (N, blocks, d_z); (N, blocks, 1) for a mixture
    has_masked = masked.view(len(x0), cfg.num_blocks, cfg.block_size).any(-1)  # (N, blocks)
    kl = kl * has_masked[..., None]
    spread = q.mean.var(dim=0, unbiased=True)  # (blocks, d_z)
    mi = _mutual_information(q, generator) * has_masked.float().mean(0)
    own, donor, prior = _swap_test(model, layout, x0, masked, q, p)
    return LatentDiagnostics(
        sequences=len(x0), latent_dim=cfg.latent_dim,
        kl_per_dim=kl.mean(0).mean(0).tolist(), kl_per_block=kl.sum(-1).mean(0).tolist(),
        kl=float(kl.sum((1, 2)).mean()),
        active_units=int((spread > ACTIVE_THRESHOLD).any(0).sum()),
        mi_per_block=mi.tolist(), mi=float(mi.sum()),
        swap_own=own, swap_donor=donor, swap_prior=prior)


def _mutual_information(q: DiagonalGaussian, generator: torch.Generator) -> torch.Tensor:
    """Per-block minibatch estimate of I(x; z) under the aggregate posterior: (blocks,)."""
    n = q.mean.shape[0]
    z = q.sample(generator)  # (N, blocks, d_z): one draw per sequence
    own = q.log_prob(z)  # (N, blocks)
    # log q(z_i | x_j) for every pair: (N_i, N_j, blocks)
    pairs = DiagonalGaussian(q.mean[None], q.logvar[None]).log_prob(z[:, None])
    aggregate = torch.logsumexp(pairs, dim=1) - math.log(n)
    return (own - aggregate).mean(0).clamp_min(0.0)


def _swap_test(model: MaskedDiffusionModel, layout, x0: torch.Tensor, masked: torch.Tensor,
               q: DiagonalGaussian, p) -> tuple[float, float, float]:
    """Argmax accuracies of one call on masked positions: own mean vs self, donor mean vs donor,
    prior mean vs donor. Donor of sequence i: sequence i + 1 (cyclically)."""
    cfg = model.config
    donor = torch.roll(torch.arange(len(x0), device=x0.device), -1)
    t = torch.ones(len(x0), cfg.num_blocks, device=x0.device) if cfg.time_conditioning else None

    def accuracy(z: torch.Tensor, target: torch.Tensor) -> float:
        guess = model.logits(layout, t, z)[..., :cfg.vocab_size].argmax(-1)
        return float((guess == target)[masked].float().mean())

    return (accuracy(q.mean, x0), accuracy(q.mean[donor], x0[donor]),
            accuracy(p.mean, x0[donor]))
