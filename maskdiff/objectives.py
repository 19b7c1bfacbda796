"""Training objectives: the masked-diffusion negative ELBO and the VMD double ELBO, block-wise.

One function serves every model kind. With block size b, times are drawn per block and the loss
of block k is weighted by w(t_k); b = L is plain MDM, b = 1 an autoregressive model. With a latent,
z_k ~ q(z_k | x0, xt) by reparameterisation and the analytic KL(q || p) is added, weighted by the
same w(t_k) (VADD's "double ELBO", the VMD paper's objective):

    L = E_t E_xt sum_k w(t_k) [ E_q sum_{i in M_k} -log p(x0^i | xt, z_k) + beta KL(q(z_k) || p(z_k)) ]

Caution, checked by hand and measured: for plain MDM this is the continuous-time negative ELBO and
bounds -log p(x0) from above (tested by enumeration). With a latent it is NOT such a bound. Per t it
bounds w(t) * -log p(x0^M | xt) for the *joint* of the masked tokens, but the continuous-time ELBO
of a joint denoiser only involves single-token marginals (one token unmasks at a time). On D1
(entropy log 10 per sequence, already matched exactly by a factorised MDM) a VMD model whose z
names the sequence scores (1/4) log 10: four times below the true negative log-likelihood. Treat
the VMD number as a training objective for few-step decoding, not as a likelihood bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import kernels
from .models import MaskedDiffusionModel
from .models.diffusion_model import Layout
from .models.latent import DiagonalGaussian, latent_kl
from .process import check_tokens, mask_tokens, sample_times
from .schedules import Schedule, resolve_schedule

WEIGHTINGS = ("elbo", "per-cell")

__all__ = ["WEIGHTINGS", "LossOutput", "NoisedBatch", "TrainingNoise", "draw_times", "draw_training_noise",
           "noise_batch", "diffusion_loss", "kl_weight", "BlockLosses",
           "loss_per_block"]


@dataclass
class LossOutput:
    """Per-token quantities (divided by the number of scored, i.e. maskable, tokens).

    loss: what to backpropagate (KL scaled by beta, free bits applied); nll: reconstruction part;
    kl: KL part at beta = 1; bound = nll + kl: the negative ELBO per token (nats) of an MDM or
    block model; for a VMD model the double-ELBO objective at beta = 1, not a likelihood bound
    (see the module docstring)."""

    loss: torch.Tensor
    nll: torch.Tensor
    kl: torch.Tensor
    bound: torch.Tensor
    num_tokens: int


@dataclass
class NoisedBatch:
    """x0 noised per block: t (B, num_blocks), xt and masked (B, L), the model's input layout."""

    x0: torch.Tensor
    t: torch.Tensor
    xt: torch.Tensor
    masked: torch.Tensor
    layout: Layout


@dataclass
class TrainingNoise:
    """Every random number one loss evaluation needs, drawn up front for a whole batch:
    t (B, num_blocks), mask_u (B, L) uniforms (position masked when u < mask probability) and
    latent_eps (B, num_blocks, d_z) or None. Drawing them for the global batch and slicing rows
    (`rows`) makes a run sharded over processes see exactly the noise of a one-process run."""

    t: torch.Tensor
    mask_u: torch.Tensor
    latent_eps: torch.Tensor | None

    def rows(self, index, device=None) -> TrainingNoise:
        """The noise of rows `index`, moved to `device`."""
        eps = None if self.latent_eps is None else self.latent_eps[index].to(device)
        return TrainingNoise(self.t[index].to(device), self.mask_u[index].to(device), eps)


def draw_times(model: MaskedDiffusionModel, schedule: Schedule | str | None, batch_size: int, *,
               generator: torch.Generator | None = None, antithetic: bool = True,
               t_min: float = 1e-4, t_max: float = 1.0,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Diffusion times per block (B, num_blocks), antithetic across the batch (schedule None: the
    model's own).

    Autoregressive models (one-token blocks, no latent or time input) get t = 1 when the schedule
    masks every token there with ELBO weight 1: a one-token block's term w(t) 1[masked]
    (-log p(x^i | x^<i)) has the same expectation at every t, so t = 1 is the ELBO itself, the
    plain AR loss, with no Monte Carlo noise. The times are still drawn, so the random stream is
    the same either way."""
    cfg = model.config
    schedule = resolve_schedule(schedule, cfg.schedule)
    nb = cfg.num_blocks
    t = sample_times(batch_size * nb, generator=generator, antithetic=antithetic, t_min=t_min,
                     t_max=t_max, device=device).view(batch_size, nb)
    if cfg.block_size == 1 and cfg.reads_xt_only and _scores_everything_exactly(schedule):
        t = torch.ones_like(t)
    return t


def _scores_everything_exactly(schedule: Schedule) -> bool:
    """Whether t = 1 masks every token with ELBO weight exactly 1 (w(1) (1 - alpha(1)) = 1)."""
    one = torch.ones(())
    return abs(float(schedule.weight(one) * schedule.mask_prob(one)) - 1.0) < 1e-6


def draw_training_noise(model: MaskedDiffusionModel, schedule: Schedule | str | None,
                        batch_size: int, *,
                        generator: torch.Generator | None = None, antithetic: bool = True,
                        t_min: float = 1e-4, t_max: float = 1.0,
                        device: torch.device | str | None = None) -> TrainingNoise:
    """Draw t, mask uniforms and latent noise as `diffusion_loss` itself would (same order,
    same values; schedule None: the model's own)."""
    cfg = model.config
    t = draw_times(model, schedule, batch_size, generator=generator, antithetic=antithetic,
                   t_min=t_min, t_max=t_max, device=device)
    u = torch.rand((batch_size, cfg.seq_len), generator=generator, device=device)
    return TrainingNoise(t, u, model.latent_noise(batch_size, generator, device))


def kl_weight(step: int, warmup_steps: int) -> float:
    """Linear KL annealing: beta rises from 0 to 1 over `warmup_steps` (1 when warmup_steps=0)."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def noise_batch(model: MaskedDiffusionModel, x0: torch.Tensor,
                schedule: Schedule | str | None = None, *,
                maskable: torch.Tensor | None = None, t: torch.Tensor | None = None,
                generator: torch.Generator | None = None, antithetic: bool = True,
                t_min: float = 1e-4, t_max: float = 1.0,
                mask_u: torch.Tensor | None = None,
                masked: torch.Tensor | None = None) -> NoisedBatch:
    """Draw t per block (antithetic across the batch) and mask x0 accordingly (with the given
    uniforms `mask_u` (B, L) instead of fresh ones, when passed). schedule None: the model's own.

    masked (B, L) bool: a state chosen by the caller instead (one-block models); t is then the
    time at which the masked share of each row's maskable positions is the expected one."""
    cfg = model.config
    schedule = resolve_schedule(schedule, cfg.schedule)
    check_tokens(x0, cfg.vocab_size, cfg.seq_len, allow_mask=False)
    B, nb = x0.shape[0], cfg.num_blocks
    if masked is not None:
        return _chosen_state(model, x0, schedule, maskable, masked)
    if t is None:
        t = draw_times(model, schedule, B, generator=generator, antithetic=antithetic,
                       t_min=t_min, t_max=t_max, device=x0.device)
    elif t.dim() == 1:
        t = t[:, None].expand(B, nb)
    block_of = torch.arange(cfg.seq_len, device=x0.device) // cfg.block_size
    xt, masked = mask_tokens(x0, schedule.mask_prob(t)[:, block_of], cfg.mask_id,
                             maskable=maskable, generator=generator, u=mask_u)
    return NoisedBatch(x0, t, xt, masked, model.training_layout(xt, x0))


def _chosen_state(model: MaskedDiffusionModel, x0: torch.Tensor, schedule: Schedule,
                  maskable: torch.Tensor | None, masked: torch.Tensor) -> NoisedBatch:
    cfg = model.config
    if cfg.num_blocks != 1:
        raise ValueError("a batch with a chosen masked state needs a one-block model "
                         f"(this one has {cfg.num_blocks} blocks)")
    if maskable is not None and bool((masked & ~maskable).any()):
        raise ValueError("the chosen masked state marks a position that is not maskable")
    scorable = maskable.sum(-1) if maskable is not None else torch.full_like(x0[:, 0], cfg.seq_len)
    share = masked.sum(-1).float() / scorable.clamp_min(1).float()
    t = schedule.time_at_mask_prob(share.clamp(1e-4, 1.0))[:, None]
    xt = torch.where(masked, torch.full_like(x0, cfg.mask_id), x0)
    return NoisedBatch(x0, t, xt, masked, model.training_layout(xt, x0))


def diffusion_loss(
    model: MaskedDiffusionModel,
    x0: torch.Tensor,
    schedule: Schedule | str | None = None,
    *,
    maskable: torch.Tensor | None = None,
    beta: float = 1.0,
    free_bits: float = 0.0,
    fit_prior: bool = True,
    generator: torch.Generator | None = None,
    antithetic: bool = True,
    t_min: float = 1e-4,
    t_max: float = 1.0,
    t: torch.Tensor | None = None,
    noise: TrainingNoise | None = None,
    masked: torch.Tensor | None = None,
    weighting: str = "elbo",
) -> LossOutput:
    """Monte Carlo negative ELBO per token for MDM / block diffusion / VMD / Block-VMD.

    x0: (B, L) clean ids; maskable: (B, L) bool, False at conditioning positions (never masked,
    never scored). beta scales the KL (annealing); free_bits (nats per latent dimension and block)
    stops the KL of a dimension from being pushed below that floor. Neither changes `bound`.
    fit_prior: where the floor holds, the KL gives no gradient at all, so a learned prior would
    stop following the posteriors; with fit_prior the prior still fits them there (the gradient
    of KL(sg(q) || p) with respect to the prior only; the loss value is unchanged).
    noise: pre-drawn randomness (see `draw_training_noise`); without it, t, masks and latent
    noise are drawn here from `generator`, in the same order. schedule: a Schedule or its name;
    None uses the model's own (`ModelConfig.schedule`). masked: a noised state chosen by the
    caller (see `noise_batch`). weighting: what `loss` backpropagates for the reconstruction,
    "elbo" (each masked token weighted by w(t), the bound itself) or "per-cell" (the plain mean
    cross-entropy over masked tokens, which does not up-weight nearly clean states); `nll` and
    `bound` are the ELBO terms either way.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    terms = _elbo_terms(model, x0, schedule, maskable=maskable, generator=generator,
                        antithetic=antithetic, t_min=t_min, t_max=t_max, t=t, noise=noise,
                        masked=masked)
    cfg, noised, rows, row_weight = model.config, terms.noised, terms.rows, terms.row_weight
    q, prior, z, kl_blocks = terms.q, terms.prior, terms.z, terms.kl_blocks
    n_tokens = int(maskable.sum()) if maskable is not None else x0.numel()
    n_tokens = max(n_tokens, 1)
    if weighting == "elbo":
        nll = kernels.elbo_cross_entropy(rows, x0[noised.masked], cfg.mask_id, row_weight).sum()
        nll = nll / n_tokens
        recon = nll
    else:
        cross_entropy = kernels.elbo_cross_entropy(rows, x0[noised.masked], cfg.mask_id)
        recon = cross_entropy.sum() / max(cross_entropy.numel(), 1)
        nll = (cross_entropy.detach() * row_weight).sum() / n_tokens
    if kl_blocks is None:
        zero = nll.new_zeros(())
        return LossOutput(recon, nll.detach(), zero, nll.detach(), n_tokens)

    block_w = terms.kl_weight
    kl = (block_w * kl_blocks.sum(-1)).sum() / n_tokens
    kl_train = kl
    if free_bits > 0:
        floor = free_bits * cfg.latent_dim / kl_blocks.shape[-1]  # per dimension, or per block
        held = kl_blocks.clamp_min(floor)
        if fit_prior and cfg.prior != "standard":  # N(0, I) has nothing to fit: no extra work
            fixed_q = DiagonalGaussian(q.mean.detach(), q.logvar.detach())
            to_prior = latent_kl(fixed_q, prior, z.detach())
            held = torch.where(kl_blocks < floor, floor + to_prior - to_prior.detach(), kl_blocks)
        kl_train = (block_w * held.sum(-1)).sum() / n_tokens
    loss = recon + beta * kl_train
    return LossOutput(loss, nll.detach(), kl.detach(), (nll + kl).detach(), n_tokens)


@dataclass
class _ElboTerms:
    noised: NoisedBatch
    weight: torch.Tensor  # (B, num_blocks): w(t_k)
    rows: torch.Tensor  # (R, V + 1): the head's logits at the masked positions
    row_weight: torch.Tensor  # (R,): w(t) of each masked position's block
    q: DiagonalGaussian | None = None
    prior: object = None
    z: torch.Tensor | None = None
    kl_blocks: torch.Tensor | None = None  # (B, num_blocks, d_z or 1)

    @property
    def kl_weight(self) -> torch.Tensor:
        """(B, num_blocks): w(t_k), and 0 for a block with nothing masked (it needs no latent;
        leaving its KL out keeps the bound)."""
        B, nb = self.weight.shape
        has_masked = self.noised.masked.view(B, nb, -1).any(-1)
        return self.weight * has_masked


def _elbo_terms(model: MaskedDiffusionModel, x0: torch.Tensor, schedule, *, maskable, generator,
                antithetic, t_min, t_max, t, noise, masked) -> _ElboTerms:
    """One Monte Carlo draw of the noised state (and z) and the denoiser's logits on it: what
    `diffusion_loss` and `loss_per_block` aggregate."""
    cfg = model.config
    schedule = resolve_schedule(schedule, cfg.schedule)
    if noise is not None:
        t = noise.t
    noised = noise_batch(model, x0, schedule, maskable=maskable, t=t, generator=generator,
                         antithetic=antithetic, t_min=t_min, t_max=t_max,
                         mask_u=None if noise is None else noise.mask_u, masked=masked)
    weight = schedule.weight(noised.t)  # (B, num_blocks)
    terms = {}
    if cfg.is_vmd:
        q = model.posterior(x0, noised.masked)
        z = q.sample(generator) if noise is None else q.reparameterise(noise.latent_eps)
        prior = model.prior(noised.layout)
        # (B, num_blocks, d_z) exactly for a Gaussian prior, (B, num_blocks, 1) estimated at z
        # for a mixture (see latent_kl)
        terms = dict(q=q, prior=prior, z=z, kl_blocks=latent_kl(q, prior, z))
    hidden = model.hidden(noised.layout, noised.t if cfg.time_conditioning else None,
                          terms.get("z"))
    rows = model.head(hidden[noised.masked])  # (R, V + 1): masked positions only
    block_of = torch.arange(cfg.seq_len, device=x0.device) // cfg.block_size
    row_weight = weight[:, block_of][noised.masked]
    return _ElboTerms(noised, weight, rows, row_weight, **terms)


@dataclass
class BlockLosses:
    """The objective split by block, in nats per token of the block (sums over the batch of one
    Monte Carlo draw; divide by `sequences`). reconstruction: w(t_k) times the cross-entropy of
    block k's masked tokens; kl: w(t_k) KL(q(z_k) || p(z_k)) (zeros without a latent). Their
    sum over blocks, times block_size / L, is `diffusion_loss(...).bound`."""

    reconstruction: torch.Tensor  # (num_blocks,)
    kl: torch.Tensor  # (num_blocks,)
    sequences: int


@torch.no_grad()
def loss_per_block(model: MaskedDiffusionModel, x0: torch.Tensor,
                   schedule: Schedule | str | None = None, *,
                   generator: torch.Generator | None = None, antithetic: bool = True,
                   t: torch.Tensor | None = None) -> BlockLosses:
    """Where the bits of the (double) ELBO go, block by block: one Monte Carlo draw of
    `diffusion_loss`'s terms on x0 (B, L), reconstruction and KL kept per block."""
    cfg = model.config
    terms = _elbo_terms(model, x0, schedule, maskable=None, generator=generator,
                        antithetic=antithetic, t_min=1e-4, t_max=1.0, t=t, noise=None, masked=None)
    nll_rows = kernels.elbo_cross_entropy(terms.rows, x0[terms.noised.masked], cfg.mask_id,
                                          terms.row_weight).double()
    block_of = (torch.arange(cfg.seq_len, device=x0.device) // cfg.block_size).expand_as(x0)
    recon = torch.zeros(cfg.num_blocks, dtype=torch.float64, device=x0.device)
    recon.index_add_(0, block_of[terms.noised.masked], nll_rows)
    kl = torch.zeros_like(recon)
    if terms.kl_blocks is not None:
        kl = (terms.kl_weight * terms.kl_blocks.sum(-1)).double().sum(0)
    return BlockLosses(recon.cpu() / cfg.block_size, kl.cpu() / cfg.block_size, x0.shape[0])
