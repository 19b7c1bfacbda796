"""Likelihood bounds and sample metrics.

- `monte_carlo_bound`: the negative ELBO per token averaged over many draws of t (and z), with its
  standard error.
- `exact_elbo`: the continuous-time ELBO of a time-agnostic model computed exactly by enumerating
  mask subsets (tiny blocks only). With n maskable positions in a block, a subset M of size m has
  weight  int_0^1 w(t) (1-a)^m a^(n-m) dt = B(m, n-m+1) = 1 / (m C(n, m))  for every schedule.
- `any_order_log_likelihood`: the exact log-likelihood of a time-agnostic MDM (tiny L): its
  continuous-time reverse process unmasks positions one at a time in a uniformly random order, so
  p(x) = mean over orders of the product of conditionals. ELBO >= -log p(x) by Jensen.
- `importance_weighted_bound`: the VMD double-ELBO objective tightened with K samples of z per
  block. Like the double ELBO it bounds joint denoising terms, not -log p(x0) (see objectives).
- `marginal_bound`: a valid negative ELBO for VMD models: the continuous-time ELBO of the
  marginal denoiser p(x^i | xt) = E_z p(x^i | xt, z), each log-marginal estimated with K
  importance samples of z (an upper bound in expectation for every K, tight as K grows).
- `perplexity_bound`: the bound above (ELBO, or `marginal_bound` for VMD models) over a whole
  held-out set, repeated over seeded passes: nats per token with its standard error, and the
  perplexity bound exp(nats).
- `distribution_metrics`: accuracy, KL(p_data || p_model) and total variation from samples.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass

import torch

from . import kernels
from .models import MaskedDiffusionModel
from .objectives import diffusion_loss, noise_batch
from .schedules import Schedule, resolve_schedule

__all__ = ["PerplexityBound", "perplexity_bound", "monte_carlo_bound", "exact_elbo",
           "any_order_log_likelihood", "importance_weighted_bound", "marginal_bound",
           "distribution_metrics", "DistributionMetrics"]


@torch.no_grad()
def monte_carlo_bound(model: MaskedDiffusionModel, x0: torch.Tensor,
                      schedule: Schedule | str | None = None, *, num_samples: int = 16,
                      maskable=None, generator=None) -> tuple[float, float]:
    """(mean, standard error) of the per-token negative ELBO over `num_samples` draws (schedule
    None: the model's own)."""
    schedule = resolve_schedule(schedule, model.config.schedule)
    values = [float(diffusion_loss(model, x0, schedule, maskable=maskable,
                                   generator=generator).bound) for _ in range(num_samples)]
    return _mean_and_se(values)


def _require_time_agnostic(model: MaskedDiffusionModel, what: str) -> None:
    if not model.config.reads_xt_only:
        raise ValueError(f"{what} needs a time-agnostic model without a latent")


@torch.no_grad()
def exact_elbo(model: MaskedDiffusionModel, x0: torch.Tensor, maskable=None,
               max_block: int = 12) -> torch.Tensor:
    """Exact negative ELBO (nats, summed over the sequence) of each row of x0: (B,)."""
    _require_time_agnostic(model, "exact_elbo")
    cfg = model.config
    b, mask_id = cfg.block_size, cfg.mask_id
    if b > max_block:
        raise ValueError(f"exact_elbo enumerates 2^block_size subsets; block_size={b} > {max_block}")
    if maskable is None:
        maskable = torch.ones_like(x0, dtype=torch.bool)
    total = torch.zeros(x0.shape[0], dtype=torch.float64)
    for row in range(x0.shape[0]):
        xs, weights, masks = [], [], []
        for k in range(cfg.num_blocks):
            pos = [k * b + i for i in range(b) if maskable[row, k * b + i]]
            n = len(pos)
            for m in range(1, n + 1):
                for subset in itertools.combinations(pos, m):
                    masked = torch.zeros(cfg.seq_len, dtype=torch.bool)
                    masked[list(subset)] = True
                    xs.append(torch.where(masked, torch.tensor(mask_id), x0[row]))
                    masks.append(masked)
                    weights.append(1.0 / (m * math.comb(n, m)))
        if not xs:
            continue
        xt = torch.stack(xs)
        masked = torch.stack(masks)
        x0_rep = x0[row].expand_as(xt)
        logits = model.logits(model.training_layout(xt, x0_rep))
        nll = kernels.elbo_cross_entropy(logits[masked], x0_rep[masked], mask_id).double()
        per_subset = torch.zeros(len(xs), dtype=torch.float64).index_add_(
            0, masked.nonzero()[:, 0], nll)
        total[row] = (per_subset * torch.tensor(weights, dtype=torch.float64)).sum()
    return total


@torch.no_grad()
def any_order_log_likelihood(model: MaskedDiffusionModel, x0: torch.Tensor,
                             max_len: int = 7) -> torch.Tensor:
    """Exact log p_model(x0) of a time-agnostic MDM (one block), by enumerating all L! orders: (B,)."""
    _require_time_agnostic(model, "any_order_log_likelihood")
    cfg = model.config
    L, mask_id = cfg.seq_len, cfg.mask_id
    if cfg.block_size != L:
        raise ValueError("any_order_log_likelihood is for plain MDM (block_size = seq_len)")
    if L > max_len:
        raise ValueError(f"enumerating {L}! orders is too many (max_len={max_len})")
    # Every masked set reachable in an order is a subset; evaluate each subset once.
    subsets = [frozenset(s) for m in range(1, L + 1) for s in itertools.combinations(range(L), m)]
    out = torch.zeros(x0.shape[0], dtype=torch.float64)
    for row in range(x0.shape[0]):
        xt = x0[row].repeat(len(subsets), 1)
        for j, s in enumerate(subsets):
            xt[j, list(s)] = mask_id
        logp = kernels.masked_log_softmax(model.logits(model.training_layout(xt, xt)), mask_id)
        logp = logp.double().gather(-1, x0[row].expand(len(subsets), L)[..., None]).squeeze(-1)
        index = {s: j for j, s in enumerate(subsets)}
        order_logps = []
        for order in itertools.permutations(range(L)):
            remaining, acc = set(range(L)), 0.0
            for pos in order:
                acc += float(logp[index[frozenset(remaining)], pos])
                remaining.discard(pos)
            order_logps.append(acc)
        out[row] = torch.logsumexp(torch.tensor(order_logps, dtype=torch.float64), 0) - math.log(
            len(order_logps))
    return out


def _latent_samples(model: MaskedDiffusionModel, x0, schedule, num_latents, maskable, generator):
    """Noise x0 once and draw K latents from q(z | x0, xt). Returns the noised batch, per-token
    log p(x0^i | xt, z_k) as (K, B, L) and per-block log p(z_k) - log q(z_k) as (K, B, blocks)."""
    cfg = model.config
    if not cfg.is_vmd:
        raise ValueError("this bound is for VMD models (latent_dim > 0); use monte_carlo_bound")
    if num_latents < 1:
        raise ValueError(f"num_latents must be >= 1, got {num_latents}")
    batch = noise_batch(model, x0, schedule, maskable=maskable, generator=generator)
    q, p = model.posterior(x0, batch.masked), model.prior(batch.layout)
    token_logp, log_ratio = [], []
    for _ in range(num_latents):
        z = q.sample(generator)
        logits = model.logits(batch.layout, batch.t if cfg.time_conditioning else None, z)
        logp = kernels.masked_log_softmax(logits, cfg.mask_id)
        token_logp.append(logp.gather(-1, x0[..., None]).squeeze(-1))
        log_ratio.append(p.log_prob(z) - q.log_prob(z))
    return batch, torch.stack(token_logp), torch.stack(log_ratio)


def _mean_and_se(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
    return mean, math.sqrt(var / len(values))


@torch.no_grad()
def importance_weighted_bound(model: MaskedDiffusionModel, x0: torch.Tensor,
                              schedule: Schedule | str | None = None, *, num_latents: int = 16,
                              num_times: int = 8, maskable=None,
                              generator=None) -> tuple[float, float]:
    """The double-ELBO objective tightened with K = num_latents samples of z per block:
    -log p(x^M | xt) <= -log mean_k p(x^M | xt, z_k) p(z_k) / q(z_k | x0, xt), weighted by w(t).
    Averaged over `num_times` draws of t; returns (mean, standard error) per token. schedule None:
    the model's own."""
    cfg = model.config
    schedule = resolve_schedule(schedule, cfg.schedule)
    B, nb, b = x0.shape[0], cfg.num_blocks, cfg.block_size
    n_tokens = int(maskable.sum()) if maskable is not None else x0.numel()
    values = []
    for _ in range(num_times):
        batch, token_logp, log_ratio = _latent_samples(model, x0, schedule, num_latents, maskable,
                                                       generator)
        block_loglik = (token_logp * batch.masked).view(num_latents, B, nb, b).sum(-1)
        iw = torch.logsumexp(block_loglik + log_ratio, 0) - math.log(num_latents)  # (B, nb)
        has_masked = batch.masked.view(B, nb, b).any(-1)
        values.append(float((schedule.weight(batch.t) * -iw * has_masked).sum()) / n_tokens)
    return _mean_and_se(values)


@torch.no_grad()
def marginal_bound(model: MaskedDiffusionModel, x0: torch.Tensor,
                   schedule: Schedule | str | None = None, *, num_latents: int = 32,
                   num_times: int = 8, maskable=None, generator=None) -> tuple[float, float]:
    """Valid negative ELBO per token of a VMD model (mean, standard error over `num_times` draws).

    Continuous-time masked diffusion unmasks one token at a time, so its ELBO needs only the
    single-token marginals p(x^i | xt) = E_{p(z)} p(x^i | xt, z). Each is estimated as
    mean_k p(x^i | xt, z_k) p(z_k) / q(z_k | x0, xt) with z_k ~ q; by Jensen, -log of that
    estimate is an upper bound in expectation, so the result never undercuts -log p(x0).
    schedule None: the model's own."""
    schedule = resolve_schedule(schedule, model.config.schedule)
    block_of = torch.arange(model.config.seq_len, device=x0.device) // model.config.block_size
    n_tokens = int(maskable.sum()) if maskable is not None else x0.numel()
    values = []
    for _ in range(num_times):
        batch, token_logp, log_ratio = _latent_samples(model, x0, schedule, num_latents, maskable,
                                                       generator)
        log_marginal = torch.logsumexp(token_logp + log_ratio[:, :, block_of], 0) - math.log(
            num_latents)  # (B, L)
        weight = schedule.weight(batch.t)[:, block_of]
        values.append(float((weight * -log_marginal * batch.masked).sum()) / n_tokens)
    return _mean_and_se(values)


@dataclass
class PerplexityBound:
    """nats_per_token: mean over passes of the per-token negative ELBO (an upper bound on the
    cross-entropy); standard_error over the passes; perplexity = exp(nats_per_token)."""

    nats_per_token: float
    standard_error: float
    num_tokens: int
    passes: int
    kind: str

    @property
    def perplexity(self) -> float:
        return math.exp(self.nats_per_token)

    def interval(self, z: float = 2.0) -> tuple[float, float]:
        """Perplexity at nats +- z standard errors."""
        return (math.exp(self.nats_per_token - z * self.standard_error),
                math.exp(self.nats_per_token + z * self.standard_error))

    def __str__(self) -> str:
        lo, hi = self.interval()
        return (f"{self.nats_per_token:.4f} +- {self.standard_error:.4f} nats/token, perplexity "
                f"<= {self.perplexity:.3f} [{lo:.3f}, {hi:.3f}] ({self.kind}, {self.num_tokens} "
                f"tokens x {self.passes} passes)")


@torch.no_grad()
def perplexity_bound(model: MaskedDiffusionModel, sequences: torch.Tensor,
                     schedule: Schedule | str | None = None, *, passes: int = 4,
                     batch_size: int = 64, num_latents: int = 16, seed: int = 0,
                     progress: bool = False) -> PerplexityBound:
    """Perplexity bound of `model` on held-out `sequences` (N, L), deterministic for a seed.

    Each pass draws fresh times (stratified across each batch) and masks for every sequence;
    the result is the mean over passes with its standard error. AR (block size 1), block
    diffusion and MDM use the diffusion ELBO; VMD models the importance-weighted marginal bound
    with `num_latents` samples of z (the double-ELBO objective is not a bound, see objectives).
    schedule None: the model's own."""
    from tqdm.auto import tqdm

    if passes < 1 or batch_size < 1:
        raise ValueError(f"passes and batch_size must be >= 1, got {passes}, {batch_size}")
    cfg = model.config
    schedule = resolve_schedule(schedule, cfg.schedule)
    if sequences.dim() != 2 or sequences.shape[1] != cfg.seq_len:
        raise ValueError(f"sequences must have shape (N, {cfg.seq_len}), got {tuple(sequences.shape)}")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    totals = []
    try:
        bar = tqdm(total=passes * sequences.shape[0], desc="bound", disable=not progress,
                   leave=False)
        for _ in range(passes):
            nats = 0.0
            for i in range(0, sequences.shape[0], batch_size):
                x0 = sequences[i:i + batch_size].to(device)
                if cfg.is_vmd:
                    value, _ = marginal_bound(model, x0, schedule, num_latents=num_latents,
                                              num_times=1, generator=generator)
                else:
                    value = float(diffusion_loss(model, x0, schedule, generator=generator).bound)
                nats += value * x0.numel()
                bar.update(x0.shape[0])
            totals.append(nats / sequences.numel())
        bar.close()
    finally:
        model.train(was_training)
    mean, se = _mean_and_se(totals) if passes > 1 else (totals[0], float("nan"))
    kind = (f"marginal bound, {num_latents} latent samples" if cfg.is_vmd else "ELBO")
    return PerplexityBound(mean, se, sequences.numel(), passes, kind)


@dataclass
class DistributionMetrics:
    """accuracy: share of samples inside the support; kl: KL(p_data || p_model) in nats with
    add-`smoothing` counts over all `num_outcomes` sequences; tv: total variation distance."""

    accuracy: float
    kl: float
    tv: float
    num_samples: int
    smoothing: float


def distribution_metrics(samples: torch.Tensor, data_probs: dict[tuple, float], num_outcomes: int,
                         smoothing: float = 1e-3) -> DistributionMetrics:
    """Compare generated sequences (N, L) with a known distribution {sequence: probability}.

    p_model(x) = (count(x) + smoothing) / (N + smoothing * num_outcomes), so a support sequence
    never drawn costs log(p_data N / smoothing) instead of infinity."""
    n = samples.shape[0]
    if n == 0:
        raise ValueError("no samples to score")
    counts = Counter(tuple(row) for row in samples.tolist())
    denom = n + smoothing * num_outcomes
    kl = sum(p * math.log(p / ((counts.get(x, 0) + smoothing) / denom))
             for x, p in data_probs.items() if p > 0)
    inside = sum(c for x, c in counts.items() if x in data_probs)
    tv = 0.5 * (sum(abs(p - counts.get(x, 0) / n) for x, p in data_probs.items())
                + sum(c / n for x, c in counts.items() if x not in data_probs))
    return DistributionMetrics(inside / n, kl, tv, n, smoothing)
