"""The forward (noising) process: time sampling, masking, and the block layout.

Block diffusion with block size b splits a length-L sequence into L/b blocks. Training runs one
forward pass over the concatenation [xt ; x0] (length 2L) with `training_attention_mask`; sampling
runs over the clean prefix plus the current noisy block with `block_causal_mask`. Both masks give a
noisy block exactly the same view (itself + the clean earlier blocks), which is tested.
"""

from __future__ import annotations

import torch

__all__ = [
    "check_tokens",
    "sample_times",
    "mask_tokens",
    "check_block_size",
    "block_index",
    "block_causal_mask",
    "training_attention_mask",
]


def check_tokens(x: torch.Tensor, vocab_size: int, seq_len: int, allow_mask: bool) -> None:
    """Clear errors for token ids that do not fit a model: shape (batch, seq_len), integer dtype,
    values in [0, vocab_size) or, with allow_mask, [0, vocab_size] (vocab_size is [MASK])."""
    if x.dim() != 2 or x.shape[1] != seq_len:
        raise ValueError(f"expected token ids of shape (batch, {seq_len}), got {tuple(x.shape)}")
    if x.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"token ids must be integers, got {x.dtype}")
    lo, hi = int(x.min()), int(x.max())
    top = vocab_size if allow_mask else vocab_size - 1
    if lo < 0 or hi > top:
        what = (f"[0, {vocab_size}] ({vocab_size} is [MASK])" if allow_mask
                else f"[0, {vocab_size}) (the model's vocab_size)")
        raise ValueError(f"token ids must lie in {what}; got values in [{lo}, {hi}]")


def sample_times(
    n: int,
    *,
    generator: torch.Generator | None = None,
    antithetic: bool = True,
    t_min: float = 1e-4,
    t_max: float = 1.0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw n diffusion times in [t_min, t_max], shape (n,).

    Antithetic (stratified) sampling uses one offset u and t_j = (u + j/n) mod 1, which covers
    [0, 1] evenly within a batch and lowers the variance of the ELBO estimate. The sliver
    [0, t_min) is left out because w(t) = 1/t makes its estimate heavy-tailed; it contributes at
    most t_min * L * (loss with one token masked), which is negligible for t_min = 1e-4.
    A narrower range [t_min, t_max] focuses training on the mask ratios a task lives at (Sudoku
    puzzles sit near 0.7); the loss is then a training objective, no longer the ELBO.
    """
    if n < 1:
        raise ValueError(f"number of times must be >= 1, got {n}")
    if not 0.0 <= t_min < t_max <= 1.0:
        raise ValueError(f"need 0 <= t_min < t_max <= 1, got t_min={t_min}, t_max={t_max}")
    if antithetic:
        u = torch.rand(1, generator=generator, device=device)
        t = (u + torch.arange(n, device=device) / n) % 1.0
    else:
        t = torch.rand(n, generator=generator, device=device)
    return t_min + (t_max - t_min) * t


def mask_tokens(
    x0: torch.Tensor,
    mask_prob: torch.Tensor,
    mask_id: int,
    *,
    maskable: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    u: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample xt ~ q(xt | x0): each maskable position becomes `mask_id` with `mask_prob`.

    x0: (B, L) token ids. mask_prob: (B,) or (B, L). maskable: (B, L) bool, False at conditioning
    positions (Sudoku givens, a prompt), which are never masked. Returns (xt, masked), where
    masked: (B, L) bool marks the positions that were masked. u: pre-drawn uniforms (B, L), used
    instead of fresh draws from `generator`.
    """
    if mask_prob.dim() == 1:
        mask_prob = mask_prob[:, None]
    if u is None:
        u = torch.rand(x0.shape, generator=generator, device=x0.device)
    elif u.shape != x0.shape:
        raise ValueError(f"mask uniforms have shape {tuple(u.shape)}, tokens {tuple(x0.shape)}")
    masked = u < mask_prob
    if maskable is not None:
        masked &= maskable
    xt = torch.where(masked, torch.full_like(x0, mask_id), x0)
    return xt, masked


def check_block_size(seq_len: int, block_size: int) -> int:
    """Validate a block size and return the number of blocks."""
    if block_size < 1 or block_size > seq_len:
        raise ValueError(f"block_size must lie in [1, seq_len={seq_len}], got {block_size}")
    if seq_len % block_size != 0:
        raise ValueError(f"seq_len={seq_len} is not a multiple of block_size={block_size}")
    return seq_len // block_size


def block_index(length: int, block_size: int, device=None) -> torch.Tensor:
    """Block number of every position: (length,) long."""
    return torch.arange(length, device=device) // block_size


def block_causal_mask(length: int, block_size: int, device=None) -> torch.Tensor:
    """(length, length) bool, True where query i may attend to key j: block(j) <= block(i).

    This is the sampling layout: clean blocks followed by the block being denoised.
    """
    blk = block_index(length, block_size, device)
    return blk[None, :] <= blk[:, None]


def training_attention_mask(seq_len: int, block_size: int, device=None) -> torch.Tensor:
    """(2L, 2L) bool attention mask for the one-pass training layout [xt ; x0].

    - a noisy token in block k sees the noisy tokens of block k and the clean tokens of blocks < k;
    - a clean token in block k sees the clean tokens of blocks <= k (block-causal);
    - clean tokens never see noisy ones.
    With block_size = 1 this is an autoregressive model; with block_size = L the clean half is
    never seen and the noisy half has full attention (plain masked diffusion).
    """
    check_block_size(seq_len, block_size)
    blk = block_index(seq_len, block_size, device)
    q, k = blk[:, None], blk[None, :]
    noisy_noisy = q == k
    noisy_clean = k < q
    clean_noisy = torch.zeros(seq_len, seq_len, dtype=torch.bool, device=device)
    clean_clean = k <= q
    top = torch.cat([noisy_noisy, noisy_clean], dim=1)
    bottom = torch.cat([clean_noisy, clean_clean], dim=1)
    return torch.cat([top, bottom], dim=0)
