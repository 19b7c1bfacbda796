"""Reverse processes: ancestral and confidence-ordered decoding with an exact NFE budget.

Every step is one denoiser call (one NFE). Decoding runs block by block (one block when the model
is plain MDM); the budget is split evenly over the blocks that have something to decode, and
within a block the number of tokens committed per step is spread evenly so that every step commits
at least one token and the last step leaves no [MASK]. Positions that are not [MASK] in the input
(Sudoku givens, a prompt) are conditioning and are never changed.

VMD latent policies (one latent per block): `fixed` draws z from the model's prior when a block
starts and keeps it (the VMD paper); `resample` draws a fresh z from the prior at every step (VADD);
`prior` does the same but requires the learned prior p(z | xt); `posterior` runs the encoder on the
current best guess of x0 (masked positions filled with the last argmax) and the mask pattern.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import kernels
from .models import MaskedDiffusionModel
from .process import check_tokens
from .schedules import Schedule, get_schedule, resolve_schedule

__all__ = ["SamplerConfig", "SampleResult", "generate", "ORDERS", "Z_POLICIES", "METHODS",
           "commit_counts"]

ORDERS = ("random", "top-prob", "top-prob-margin", "entropy")
Z_POLICIES = ("fixed", "resample", "prior", "posterior")
METHODS = ("confidence", "ancestral")


@dataclass
class SamplerConfig:
    """How to decode.

    nfe: total denoiser calls (None: one token per step). method: "confidence" (commit the k best
    ranked positions each step) or "ancestral" (each masked position unmasks with the reverse
    process probability; noise drawn in float64). order: ranking rule for "confidence".
    temperature: 0 commits the argmax, > 0 samples at that temperature. score_noise: scale of
    Gumbel noise added to the ranking scores. z_policy: how VMD latents are drawn (see module doc);
    latent_temperature scales the standard deviation of the latent draws (1 = the model's prior).
    schedule: the noise schedule to decode with (None: the model's own, `ModelConfig.schedule`),
    which sets the ancestral time grid and the time a time-conditioned model reads. kv_cache:
    with several blocks, keep the keys/values of finished blocks so each denoiser call processes
    only the current block (same result as recomputing the prefix; not used with a learned prior,
    which reads the prefix).
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
        if self.method not in METHODS:
            raise ValueError(f"unknown sampling method {self.method!r}; choose one of {METHODS}")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; choose one of {ORDERS}")
        if self.z_policy not in Z_POLICIES:
            raise ValueError(f"unknown z policy {self.z_policy!r}; choose one of {Z_POLICIES}")
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


def commit_counts(n_masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Tokens to commit per step: (B,) masked counts -> (B, steps), rows summing to n_masked.

    Evenly spread: step s commits floor((s+1) n / S) - floor(s n / S), which is >= 1 whenever
    n >= S."""
    s = torch.arange(steps + 1, device=n_masked.device)
    edges = torch.div(s[None, :] * n_masked[:, None], steps, rounding_mode="floor")
    return edges[:, 1:] - edges[:, :-1]


def _split_budget(nfe: int, blocks_needed: list[int]) -> dict[int, int]:
    base, extra = divmod(nfe, len(blocks_needed))
    return {k: base + (1 if i < extra else 0) for i, k in enumerate(blocks_needed)}


class _LatentDrawer:
    """Draws the VMD latent of the current block according to the z policy."""

    def __init__(self, model: MaskedDiffusionModel, policy: str, generator, temperature: float):
        self.model, self.policy, self.generator = model, policy, generator
        self.temperature = temperature
        self.z = None  # (B, num_blocks, d_z)
        if policy == "prior" and model.prior_net is None:
            raise ValueError("z_policy 'prior' needs a model trained with a learned prior "
                             "(ModelConfig.prior='learned'); use 'fixed' or 'resample'")

    def for_step(self, layout, block: int, step: int, x_full, last_argmax):
        cfg = self.model.config
        if not cfg.is_vmd:
            return None
        if self.z is None:
            self.z = torch.zeros(x_full.shape[0], cfg.num_blocks, cfg.latent_dim,
                                 device=x_full.device)
        fresh = step == 0 or self.policy != "fixed"
        if fresh and self.policy == "posterior" and step > 0:
            # Encode the current best guess of x0 (argmax fill-in) together with the mask pattern.
            masked = x_full == cfg.mask_id
            guess = torch.where(masked, last_argmax, x_full)
            self.z[:, block] = self.model.posterior(guess, masked).sample(
                self.generator, self.temperature)[:, block]
        elif fresh:
            self.z[:, block] = self.model.prior(layout).sample(self.generator,
                                                                 self.temperature)[:, block]
        return self.z


@torch.no_grad()
def generate(
    model: MaskedDiffusionModel,
    x_init: torch.Tensor | None = None,
    *,
    batch_size: int | None = None,
    config: SamplerConfig | None = None,
    generator: torch.Generator | None = None,
) -> SampleResult:
    """Decode `x_init` (B, L) whose [MASK] positions are to be filled (all-[MASK] rows of
    `batch_size` when x_init is None), block by block. Returns the decoded tokens and the NFE
    used (denoiser calls; with the KV cache, the one pass per finished block that fills the
    cache is not a denoising step and is not counted)."""
    config = config or SamplerConfig()
    cfg = model.config
    device = next(model.parameters()).device
    if x_init is None:
        if batch_size is None or batch_size < 1:
            raise ValueError("give x_init or a batch_size >= 1")
        x_init = torch.full((batch_size, cfg.seq_len), cfg.mask_id, dtype=torch.long, device=device)
    check_tokens(x_init, cfg.vocab_size, cfg.seq_len, allow_mask=True)
    x = x_init.clone().long().to(device)
    B, b = x.shape[0], cfg.block_size
    masked_per_block = (x == cfg.mask_id).view(B, cfg.num_blocks, b).sum(-1)  # (B, nb)
    blocks_needed = [k for k in range(cfg.num_blocks) if masked_per_block[:, k].any()]
    if not blocks_needed:
        return SampleResult(x, 0)

    if config.nfe is None:
        steps = {k: int(masked_per_block[:, k].max()) for k in blocks_needed}
    else:
        if config.nfe < len(blocks_needed):
            raise ValueError(f"nfe={config.nfe} is below the number of blocks to decode "
                             f"({len(blocks_needed)}): each block needs at least one denoiser call")
        steps = _split_budget(config.nfe, blocks_needed)
        for k in blocks_needed:
            n = masked_per_block[:, k]
            short = (n > 0) & (n < steps[k])
            if short.any():
                raise ValueError(
                    f"nfe={config.nfe} asks for {steps[k]} steps in block {k}, but a sequence has "
                    f"only {int(n[short].min())} masked tokens there; lower nfe (at most one step "
                    f"per masked token)")

    latents = _LatentDrawer(model, config.z_policy, generator, config.latent_temperature)
    cache = None
    if config.kv_cache and cfg.num_blocks > 1 and model.prior_net is None:
        cache = model.new_cache()
    schedule = resolve_schedule(config.schedule, cfg.schedule)
    nfe = 0
    was_training = model.training
    model.eval()
    try:
        for k in blocks_needed:
            start, end = k * b, (k + 1) * b
            n_block = masked_per_block[:, k]
            counts = commit_counts(n_block, steps[k]) if config.method == "confidence" else None
            last_argmax = torch.full_like(x, cfg.mask_id)
            if cache is not None and cache.length < start:  # clean blocks not cached yet
                model.extend_cache(x[:, cache.length:start], cache)
            for step in range(steps[k]):
                block_x = x[:, start:end]
                layout = (model.cached_layout(block_x, start) if cache is not None
                          else model.sampling_layout(x[:, :end]))
                z = latents.for_step(layout, k, step, x, last_argmax)
                still_masked = block_x == cfg.mask_id  # (B, b)
                t = _block_time(cfg, still_masked, n_block, x, step, steps[k], config, schedule)
                logits = model.logits(layout, t, z, cache)  # (B, b, V + 1)
                nfe += 1
                out = kernels.gumbel_sample(logits[still_masked], cfg.mask_id,
                                            temperature=_token_temperature(config),
                                            generator=generator,
                                            with_entropy=config.order == "entropy")
                if config.method == "confidence":
                    commit = _rank_and_pick(out, still_masked, counts[:, step], config, generator)
                else:
                    commit = _ancestral_pick(still_masked, schedule, step, steps[k], generator)
                tokens = torch.full_like(block_x, cfg.mask_id)
                tokens[still_masked] = out.token
                x[:, start:end] = torch.where(commit, tokens, block_x)
                if latents.policy == "posterior":
                    last_argmax[:, start:end][still_masked] = out.argmax
            if (x[:, start:end] == cfg.mask_id).any():
                raise RuntimeError(f"internal error: block {k} still has [MASK] after decoding")
    finally:
        model.train(was_training)
    return SampleResult(x, nfe)


def _token_temperature(config: SamplerConfig) -> float:
    # The ancestral sampler draws from the model's distribution; greedy makes no sense there.
    if config.method == "ancestral" and config.temperature == 0:
        return 1.0
    return config.temperature


def _block_time(cfg, still_masked, n_block, x, step, steps, config, schedule):
    """Time fed to time-conditioned models: the grid time (ancestral), or the time at which the
    schedule's expected masked fraction 1 - alpha(t) equals the block's masked fraction."""
    if not cfg.time_conditioning:
        return None
    B = x.shape[0]
    if config.method == "ancestral":
        t_block = torch.full((B,), 1.0 - step / steps, device=x.device)
    else:
        fraction = still_masked.sum(-1).float() / n_block.clamp_min(1).float()
        t_block = schedule.time_at_mask_prob(fraction)
    return t_block[:, None].expand(B, cfg.num_blocks)


def _rank_and_pick(out, still_masked, k_now, config: SamplerConfig, generator):
    """Boolean (B, b): the k_now[i] best-ranked masked positions of each row."""
    B, b = still_masked.shape
    if config.order == "random":
        row_score = torch.rand(out.token.shape, generator=generator, device=still_masked.device)
    elif config.order == "top-prob":
        row_score = out.top1_prob
    elif config.order == "top-prob-margin":
        row_score = out.margin
    else:
        row_score = -out.entropy
    row_score = row_score.double()
    if config.score_noise > 0:
        u = torch.rand(row_score.shape, generator=generator, dtype=torch.float64,
                       device=row_score.device)
        row_score = row_score + config.score_noise * -torch.log(-torch.log(u))
    score = torch.full((B, b), -math.inf, dtype=torch.float64, device=still_masked.device)
    score[still_masked] = row_score
    rank = score.argsort(dim=-1, descending=True).argsort(dim=-1)
    return still_masked & (rank < k_now[:, None])


def _ancestral_pick(still_masked, schedule: Schedule, step: int, steps: int, generator):
    """Each masked position unmasks with probability (alpha(s) - alpha(t)) / (1 - alpha(t))."""
    t = torch.tensor(1.0 - step / steps, dtype=torch.float64)
    s = torch.tensor(1.0 - (step + 1) / steps, dtype=torch.float64)
    p = 1.0 if step == steps - 1 else float(schedule.unmask_prob(t, s))
    u = torch.rand(still_masked.shape, generator=generator, dtype=torch.float64,
                   device=still_masked.device)
    return still_masked & (u < p)
