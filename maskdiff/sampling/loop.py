"""The decoding loop: block by block, one denoiser call per step, within an NFE budget (spent
exactly by the fixed schedule; a threshold or a finished row can leave calls unspent).

The budget is split evenly over the blocks that have something to decode. Each step may send some
committed tokens back to [MASK] (the remask strategy), draws the block's latent (the z policy),
calls the denoiser once, restricts the logits to what a task's constraint allows, samples a token
for every masked position (`maskdiff.kernels`) and lets the method decide which of them to commit.
A block ends when its steps are spent or no row has a [MASK] left in it. Positions that are not
[MASK] in the input (Sudoku givens, a prompt) are conditioning and are never changed.

A constraint is `constraint(x) -> allowed`: x (B, L) the current tokens, allowed (B, L, V) bool,
the tokens each position may take (for Sudoku: the digits not yet placed among a cell's peers).
A position left with no allowed token is decoded unconstrained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import kernels
from ..models import MaskedDiffusionModel
from ..models.transformer import KVCache
from ..process import check_tokens
from ..schedules import resolve_schedule
from .config import SamplerConfig, SampleResult
from .latents import BlockLatents
from .methods import METHODS, Method
from .remasking import REMASKS

__all__ = ["generate", "Constraint"]

Constraint = Callable[[torch.Tensor], torch.Tensor]  # x (B, L) -> allowed (B, L, V) bool


@dataclass
class _Run:
    """What one decoding run shares across blocks: its parts and its running accounts."""

    model: MaskedDiffusionModel
    config: SamplerConfig
    method: Method
    latents: BlockLatents
    cache: KVCache | None
    constraint: Constraint | None
    generator: torch.Generator | None
    nfe_rows: torch.Tensor  # (B,) calls made while the row had [MASK]s in the current block
    commits: torch.Tensor  # (B,) tokens committed
    confidence: torch.Tensor  # (B, L) probability of each generated token at its last commit
    calls: int = 0
    denoiser_seconds: float = 0.0


@torch.no_grad()
def generate(
    model: MaskedDiffusionModel,
    x_init: torch.Tensor | None = None,
    *,
    batch_size: int | None = None,
    config: SamplerConfig | None = None,
    generator: torch.Generator | None = None,
    constraint: Constraint | None = None,
    on_block: Callable[[int, torch.Tensor], bool | None] | None = None,
) -> SampleResult:
    """Decode `x_init` (B, L) whose [MASK] positions are to be filled (all-[MASK] rows of
    `batch_size` when x_init is None), block by block, optionally under a `constraint` on the
    tokens each position may take. Returns the decoded tokens and the cost: denoiser calls for
    the batch and per sequence (with the KV cache, the one pass per finished block that fills the
    cache is not a denoising step and is not counted), tokens committed, wall time.

    on_block(k, x) is called after block k is decoded, with the tokens so far (B, L) (e.g. to
    stream text); when it returns True, decoding stops there and the later blocks stay [MASK]."""
    t0 = time.perf_counter()
    config = config or SamplerConfig()
    cfg = model.config
    x = _initial_tokens(model, x_init, batch_size)
    B = x.shape[0]
    masked_per_block = (x == cfg.mask_id).view(B, cfg.num_blocks, -1).sum(-1)  # (B, nb)
    steps = _steps_per_block(config.nfe, masked_per_block, cap=config.min_per_call == "one")
    use_cache = config.kv_cache and cfg.num_blocks > 1
    cache = model.new_cache() if use_cache else None
    run = _Run(model, config,
               METHODS[config.method](config, resolve_schedule(config.schedule, cfg.schedule),
                                      generator),
               BlockLatents(model, config.z_policy, generator, config.latent_temperature, cache),
               cache, constraint, generator,
               nfe_rows=torch.zeros(B, dtype=torch.long, device=x.device),
               commits=torch.zeros(B, dtype=torch.long, device=x.device),
               confidence=torch.full(x.shape, math.nan, device=x.device))
    was_training = model.training
    model.eval()
    try:
        for k, n in steps.items():
            _decode_block(run, x, k, n, masked_per_block[:, k])
            if on_block is not None and on_block(k, x):
                break
    finally:
        model.train(was_training)
    return SampleResult(x, run.calls, run.nfe_rows, run.commits, run.confidence,
                        seconds=time.perf_counter() - t0, denoiser_seconds=run.denoiser_seconds)


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


def _steps_per_block(nfe: int | None, masked_per_block: torch.Tensor,
                     cap: bool = False) -> dict[int, int]:
    """Denoiser calls for each block that has [MASK]s: {block: steps}, in decoding order. With
    `cap`, nfe is a ceiling (one token per call at least): a block takes at most its tokens."""
    masked_per_block = masked_per_block.cpu()  # one device sync here, not a few per block
    needed = [k for k in range(masked_per_block.shape[1]) if masked_per_block[:, k].any()]
    most = {k: int(masked_per_block[:, k].max()) for k in needed}
    if nfe is None or not needed:
        return most
    if nfe < len(needed):
        raise ValueError(f"nfe={nfe} is below the number of blocks to decode ({len(needed)}): "
                         f"each block needs at least one denoiser call")
    base, extra = divmod(nfe, len(needed))
    steps = {k: base + (1 if i < extra else 0) for i, k in enumerate(needed)}
    if cap:
        return {k: min(n, most[k]) for k, n in steps.items()}
    # At most one step per masked token in every sequence that decodes the block; steps a block
    # cannot use move to later blocks that can (e.g. a prompt that ends inside a block).
    room = {k: int(masked_per_block[:, k][masked_per_block[:, k] > 0].min()) for k in needed}
    if sum(room.values()) < nfe:
        k = min(needed, key=lambda j: room[j])
        raise ValueError(
            f"nfe={nfe} is more than the denoiser calls these blocks can use at one masked token "
            f"per call ({sum(room.values())}; a sequence has only {room[k]} masked tokens in "
            f"block {k}); lower nfe")
    spare = sum(max(0, steps[k] - room[k]) for k in needed)
    for k in needed:
        steps[k] = min(steps[k], room[k])
    for k in needed:
        moved = min(spare, room[k] - steps[k])
        steps[k], spare = steps[k] + moved, spare - moved
    return steps


def _decode_block(run: _Run, x: torch.Tensor, k: int, steps: int, n_masked: torch.Tensor) -> None:
    """Fill the [MASK]s of block k of x (B, L) in place, in at most `steps` denoiser calls."""
    model, cfg, method = run.model, run.model.config, run.method
    start, end = k * cfg.block_size, (k + 1) * cfg.block_size
    method.start_block(n_masked, steps)
    generated = x[:, start:end] == cfg.mask_id  # (B, b) positions this block decodes
    # Only a threshold lets rows finish before the block's last step; asking the device whether
    # any row is left costs a host sync per step, so the fixed schedule does not ask.
    may_finish_early = run.config.threshold is not None
    argmax = torch.full_like(x, cfg.mask_id)  # (B, L) last argmax predictions, for z policies
    if run.cache is not None and run.cache.length < start:  # clean blocks not cached yet
        model.extend_cache(x[:, run.cache.length:start], run.cache)
    for step in range(steps):
        if run.config.remask is not None and 0 < step < steps - 1:
            _remask(run, x, start, end, generated)
        block_x = x[:, start:end]  # (B, b)
        still_masked = block_x == cfg.mask_id  # (B, b)
        active = still_masked.any(-1)  # (B,)
        if may_finish_early and not bool(active.any()):
            break
        out = _predict(run, x, k, step, still_masked, argmax)
        commit = method.commit(out, still_masked, step)  # (B, b)
        tokens = torch.full_like(block_x, cfg.mask_id)
        tokens[still_masked] = out.token
        x[:, start:end] = torch.where(commit, tokens, block_x)
        drawn_prob = torch.zeros_like(run.confidence[:, start:end])
        drawn_prob[still_masked] = out.token_prob.to(drawn_prob.dtype)
        run.confidence[:, start:end] = torch.where(commit, drawn_prob, run.confidence[:, start:end])
        run.commits += commit.sum(-1)
        run.nfe_rows += active
    if (x[:, start:end] == cfg.mask_id).any():
        raise RuntimeError(f"internal error: block {k} still has [MASK] after decoding")


def _predict(run: _Run, x: torch.Tensor, k: int, step: int, still_masked: torch.Tensor,
             argmax: torch.Tensor) -> kernels.SampleOutput:
    """One denoiser call for block k: a token (and its confidences) for every masked position."""
    model, cfg = run.model, run.model.config
    B, start, end = x.shape[0], k * cfg.block_size, (k + 1) * cfg.block_size
    block_x = x[:, start:end]
    layout = (model.cached_layout(block_x, start) if run.cache is not None
              else model.sampling_layout(x[:, :end]))
    z = run.latents.for_step(layout, k, step, x, argmax)
    t = None
    if cfg.time_conditioning:
        t = run.method.time(still_masked, step)[:, None].expand(B, cfg.num_blocks)
    t0 = time.perf_counter()
    logits = model.logits(layout, t, z, run.cache)  # (B, b, V + 1)
    run.denoiser_seconds += time.perf_counter() - t0
    run.calls += 1
    if run.constraint is not None:
        logits = _constrain(logits, run.constraint(x)[:, start:end], cfg.vocab_size)
    out = kernels.gumbel_sample(logits[still_masked], cfg.mask_id,
                                temperature=run.method.token_temperature,
                                generator=run.generator, with_entropy=run.method.needs_entropy)
    if run.latents.policy.needs_guess:
        argmax[:, start:end][still_masked] = out.argmax
    return out


def _constrain(logits: torch.Tensor, allowed: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """logits (B, b, V + 1) with the tokens `allowed` (B, b, V) forbids at -inf; a position with
    no allowed token keeps its logits."""
    if allowed.shape != logits.shape[:-1] + (vocab_size,) or allowed.dtype != torch.bool:
        raise ValueError(f"a constraint must return a bool tensor of shape (B, L, {vocab_size}), "
                         f"got {tuple(allowed.shape)} {allowed.dtype}")
    if allowed.device != logits.device:
        raise ValueError(f"a constraint must return its tensor on the model's device "
                         f"({logits.device}), got {allowed.device}")
    allowed = allowed | ~allowed.any(-1, keepdim=True)
    forbid = torch.cat([~allowed, torch.zeros_like(allowed[..., :1])], dim=-1)  # mask column as is
    return logits.masked_fill(forbid, -math.inf)


def _remask(run: _Run, x: torch.Tensor, start: int, end: int, generated: torch.Tensor) -> None:
    """Send `remask_share` (rounded down) of the block's committed generated tokens back to
    [MASK], in rows still decoding: a finished row stays finished."""
    mask_id = run.model.config.mask_id
    block = x[:, start:end]
    committed = generated & (block != mask_id)  # (B, b)
    still_decoding = (block == mask_id).any(-1)  # (B,)
    k = torch.floor(committed.sum(-1) * run.config.remask_share).long() * still_decoding
    picked = REMASKS[run.config.remask](run.confidence[:, start:end], committed, k, run.generator)
    x[:, start:end] = x[:, start:end].masked_fill(picked, mask_id)
