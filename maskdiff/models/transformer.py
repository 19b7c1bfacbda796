"""A bidirectional pre-norm transformer trunk with optional per-token adaptive layer norm.

The same trunk serves as the denoiser, the VMD encoder and the learned prior. Attention is
controlled entirely by a boolean mask, so one module is bidirectional (MDM), block-causal (block
diffusion) or causal (b = 1). A per-token conditioning vector (time and/or latent z) modulates every
block through shift/scale/gate projections initialised to zero, so an untrained conditioned model
starts as a plain transformer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Trunk", "TransformerBlock", "KVCache", "timestep_embedding"]


class KVCache:
    """Keys and values of finished (clean) tokens, per layer, in buffers (B, H, max_len, D/H).

    Block-by-block decoding fills it once per finished block; the next block's denoiser calls then
    process only that block's tokens, attending to the cache and to each other. Each call writes
    its own keys/values into the slots after `length` (no copy of the cache); only a call that
    extends the cache moves `length` past them."""

    def __init__(self, n_layers: int, max_len: int, prior_layers: int = 0):
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.max_len, self.length = max_len, 0
        # A learned prior p(z_k | x^<k) reads the same clean blocks through its own network:
        # its keys/values live in a cache of their own, filled alongside this one.
        self.prior = KVCache(prior_layers, max_len) if prior_layers else None

    def attend(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v (B, H, N, D/H) after the cached tokens; return keys/values of both."""
        if self.keys[layer] is None:
            B, H, _, dh = k.shape
            self.keys[layer] = k.new_empty(B, H, self.max_len, dh)
            self.values[layer] = v.new_empty(B, H, self.max_len, dh)
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; {end} requested")
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of times t in [0, 1]: (...,) -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = (1000.0 * t.float())[..., None] * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """x: (B, N, D). With a cache, keys/values of the cached tokens come first (attn_mask,
        if any, is then (N, cached + N))."""
        B, N, D = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.attend(layer, k, v)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class TransformerBlock(nn.Module):
    """Pre-norm block; with cond_dim > 0 the norms are modulated per token (adaLN)."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float, dropout: float, cond_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        hidden = int(mlp_ratio * d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))
        self.drop = nn.Dropout(dropout)
        self.modulation = None
        if cond_dim > 0:
            self.modulation = nn.Linear(cond_dim, 6 * d_model)
            nn.init.zeros_(self.modulation.weight)
            nn.init.zeros_(self.modulation.bias)

    def forward(self, x, attn_mask=None, cond=None, cache=None, layer=0):
        """cond: None or (groups (B, G, C), group_of_token (N,)): tokens share the conditioning
        of their group (one per block, plus one for clean context), so the modulation is computed
        G times per sequence instead of N times. cache, layer: see `SelfAttention.forward`."""
        if self.modulation is None or cond is None:
            x = x + self.drop(self.attn(self.norm1(x), attn_mask, cache, layer))
            return x + self.drop(self.mlp(self.norm2(x)))
        groups, group_of_token = cond
        mod = self.modulation(F.silu(groups))
        if group_of_token is not None:  # None: one group, broadcast over the tokens
            mod = mod[:, group_of_token]
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + (1 + gate1) * self.drop(self.attn(h, attn_mask, cache, layer))
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + (1 + gate2) * self.drop(self.mlp(h))


class Trunk(nn.Module):
    """Token + position embeddings, a stack of blocks (applied n_loops times, weight-tied) and a
    final norm: (B, N) ids -> (B, N, D)."""

    def __init__(
        self,
        num_embeddings: int,
        max_positions: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        cond_dim: int = 0,
        position_groups: list[list[int]] | None = None,
        n_loops: int = 1,
    ):
        super().__init__()
        self.n_loops = n_loops
        self.tok_emb = nn.Embedding(num_embeddings, d_model)
        self.pos_emb = nn.Embedding(max_positions, d_model)
        # One table per grouping of positions (e.g. row, column, box); group_ids[g, position].
        groups = position_groups or []
        self.register_buffer("group_ids", torch.tensor(groups, dtype=torch.long) if groups else None,
                             persistent=False)
        self.group_embs = nn.ModuleList(nn.Embedding(max(g) + 1, d_model) for g in groups)
        for emb in self.group_embs:
            nn.init.normal_(emb.weight, std=0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, mlp_ratio, dropout, cond_dim) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)

    def forward(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        cond: tuple[torch.Tensor, torch.Tensor] | None = None,
        extra: torch.Tensor | None = None,
        cache: KVCache | None = None,
        extend_cache: bool = False,
    ) -> torch.Tensor:
        """tokens: (B, N); positions: (N,); attn_mask: (N, N) bool, True = may attend;
        cond: (groups (B, G, C), group_of_token (N,) or None) conditioning shared by groups of
        tokens (None: a single group (B, 1, C) shared by every token);
        extra: (B, N, D) added to the embeddings;
        cache: keys/values of earlier clean tokens to attend to (extend_cache: add these tokens)."""
        h = self.tok_emb(tokens) + self.pos_emb(positions)
        for emb, ids in zip(self.group_embs, self.group_ids if self.group_embs else ()):
            h = h + emb(ids[positions])
        if extra is not None:
            h = h + extra
        depth = len(self.blocks)
        for loop in range(self.n_loops):  # weight-tied repeats; each pass has its own cache slot
            for i, block in enumerate(self.blocks):
                h = block(h, attn_mask, cond, cache, loop * depth + i)
        if cache is not None and extend_cache:
            cache.length += tokens.shape[1]
        return self.norm(h)
