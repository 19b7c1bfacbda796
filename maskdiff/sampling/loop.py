"""The decoding loop: block by block, one denoiser call per step, an exact NFE budget.

The budget is split evenly over the blocks that have something to decode. Each step draws the
block's latent (the z policy), calls the denoiser once, samples a token for every masked position
(`maskdiff.kernels`) and lets the method decide which of them to commit. Positions that are not
[MASK] in the input (Sudoku givens, a prompt) are conditioning and are never changed.
"""

from __future__ import annotations

import torch

from .. import kernels
from ..models import MaskedDiffusionModel
from ..models.transformer import KVCache
from ..process import check_tokens
from ..schedules import resolve_schedule
from .config import SamplerConfig, SampleResult
from .latents import BlockLatents
from .methods import METHODS, Method

__all__ = ["generate"]


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
    x = _initial_tokens(model, x_init, batch_size)
    masked_per_block = (x == cfg.mask_id).view(x.shape[0], cfg.num_blocks, -1).sum(-1)  # (B, nb)
    steps = _steps_per_block(config.nfe, masked_per_block)
    if not steps:
        return SampleResult(x, 0)
    latents = BlockLatents(model, config.z_policy, generator, config.latent_temperature)
    method = METHODS[config.method](config, resolve_schedule(config.schedule, cfg.schedule),
                                    generator)
    use_cache = config.kv_cache and cfg.num_blocks > 1 and model.prior_net is None
    cache = model.new_cache() if use_cache else None
    was_training = model.training
    model.eval()
    try:
        for k, n in steps.items():
            _decode_block(model, x, k, n, masked_per_block[:, k], method, latents, cache, generator)
    finally:
        model.train(was_training)
    return SampleResult(x, sum(steps.values()))


def _initial_tokens(model: MaskedDiffusionModel, x_init, batch_size) -> torch.Tensor:
    """A checked copy of x_init (B, L) on the model's device, or all-[MASK] rows."""
    cfg = model.config
    device = next(model.parameters()).device
    if x_init is None:
        if batch_size is None or batch_size < 1:
            raise ValueError("give x_init or a batch_size >= 1")
        x_init = torch.full((batch_size, cfg.seq_len), cfg.mask_id, dtype=torch.long, device=device)
    check_tokens(x_init, cfg.vocab_size, cfg.seq_len, allow_mask=True)
    return x_init.clone().long().to(device)


def _steps_per_block(nfe: int | None, masked_per_block: torch.Tensor) -> dict[int, int]:
    """Denoiser calls for each block that has [MASK]s: {block: steps}, in decoding order."""
    needed = [k for k in range(masked_per_block.shape[1]) if masked_per_block[:, k].any()]
    if nfe is None or not needed:
        return {k: int(masked_per_block[:, k].max()) for k in needed}
    if nfe < len(needed):
        raise ValueError(f"nfe={nfe} is below the number of blocks to decode ({len(needed)}): "
                         f"each block needs at least one denoiser call")
    base, extra = divmod(nfe, len(needed))
    steps = {k: base + (1 if i < extra else 0) for i, k in enumerate(needed)}
    for k in needed:
        n = masked_per_block[:, k]
        short = (n > 0) & (n < steps[k])
        if short.any():
            raise ValueError(
                f"nfe={nfe} asks for {steps[k]} steps in block {k}, but a sequence has only "
                f"{int(n[short].min())} masked tokens there; lower nfe (at most one step per "
                f"masked token)")
    return steps


def _decode_block(model: MaskedDiffusionModel, x: torch.Tensor, k: int, steps: int,
                  n_masked: torch.Tensor, method: Method, latents: BlockLatents,
                  cache: KVCache | None, generator: torch.Generator | None) -> None:
    """Fill the [MASK]s of block k of x (B, L) in place, in `steps` denoiser calls."""
    cfg = model.config
    B, start, end = x.shape[0], k * cfg.block_size, (k + 1) * cfg.block_size
    method.start_block(n_masked, steps)
    argmax = torch.full_like(x, cfg.mask_id)  # (B, L) last argmax predictions, for z policies
    if cache is not None and cache.length < start:  # clean blocks not cached yet
        model.extend_cache(x[:, cache.length:start], cache)
    for step in range(steps):
        block_x = x[:, start:end]  # (B, b)
        layout = (model.cached_layout(block_x, start) if cache is not None
                  else model.sampling_layout(x[:, :end]))
        z = latents.for_step(layout, k, step, x, argmax)
        still_masked = block_x == cfg.mask_id  # (B, b)
        t = None
        if cfg.time_conditioning:
            t = method.time(still_masked, step)[:, None].expand(B, cfg.num_blocks)
        logits = model.logits(layout, t, z, cache)  # (B, b, V + 1)
        out = kernels.gumbel_sample(logits[still_masked], cfg.mask_id,
                                    temperature=method.token_temperature, generator=generator,
                                    with_entropy=method.needs_entropy)
        tokens = torch.full_like(block_x, cfg.mask_id)
        tokens[still_masked] = out.token
        x[:, start:end] = torch.where(method.commit(out, still_masked, step), tokens, block_x)
        if latents.policy.needs_guess:
            argmax[:, start:end][still_masked] = out.argmax
    if (x[:, start:end] == cfg.mask_id).any():
        raise RuntimeError(f"internal error: block {k} still has [MASK] after decoding")
