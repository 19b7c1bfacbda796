"""The masked-diffusion model: denoiser (+ VMD encoder and prior) and its input layouts.

One class covers plain MDM (block_size = L), block diffusion (1 <= block_size < L, with b = 1 an
autoregressive model), VMD (latent_dim > 0) and Block-VMD (both). Losses live in
`maskdiff.objectives`, decoding in `maskdiff.sampling`; this module only maps inputs to logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..process import block_causal_mask, training_attention_mask
from .config import ModelConfig
from .latent import DiagonalGaussian, GaussianMixture, LatentEncoder, LearnedPrior, MixturePrior
from .transformer import KVCache, Trunk, timestep_embedding

__all__ = ["Layout", "MaskedDiffusionModel"]


@dataclass
class Layout:
    """What the trunk reads: tokens (B, N), positions (N,), attn_mask (N, N) or None, and which
    positions are noisy (N,) bool. The noisy positions are the ones the denoiser predicts."""

    tokens: torch.Tensor
    positions: torch.Tensor
    attn_mask: torch.Tensor | None
    noisy: torch.Tensor
    noisy_start: int
    noisy_end: int


class MaskedDiffusionModel(nn.Module):
    """Denoiser p(x0^i | xt [, z]) with optional VMD latent (encoder q(z|x0,xt), prior p(z|.))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        cond_dim = d if config.has_conditioning else 0
        self.trunk = Trunk(config.vocab_size + 1, config.seq_len, d, config.n_layers,
                           config.n_heads, config.mlp_ratio, config.dropout, cond_dim,
                           config.position_groups, n_loops=config.n_loops)
        self.register_buffer("group_mask", self._group_mask(config), persistent=False)
        self.head = nn.Linear(d, config.vocab_size + 1)
        self.time_mlp = (nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
                         if config.time_conditioning else None)
        self.latent_proj = self.encoder = self.prior_net = self.prior_mixture = None
        if config.is_vmd:
            self.latent_proj = nn.Sequential(nn.Linear(config.latent_dim, d), nn.SiLU(),
                                             nn.Linear(d, d))
            self.encoder = LatentEncoder(config)
            if config.prior == "learned":
                self.prior_net = LearnedPrior(config)
            elif config.prior == "mixture":
                self.prior_mixture = MixturePrior(config)

    # ----------------------------------------------------------------------------------- layouts
    @property
    def mask_id(self) -> int:
        return self.config.mask_id

    @staticmethod
    def _group_mask(config: ModelConfig) -> torch.Tensor | None:
        """(L, L) bool: positions sharing at least one group (None without group attention)."""
        if not config.group_attention:
            return None
        ids = torch.tensor(config.position_groups)  # (G, L)
        return (ids[:, :, None] == ids[:, None, :]).any(0)

    def training_layout(self, xt: torch.Tensor, x0: torch.Tensor) -> Layout:
        """[xt ; x0] with the block-diffusion mask, or just xt when one block spans the sequence."""
        L, b = self.config.seq_len, self.config.block_size
        device = xt.device
        pos = torch.arange(L, device=device)
        if b == L:
            return Layout(xt, pos, self.group_mask, torch.ones(L, dtype=torch.bool, device=device),
                          0, L)
        noisy = torch.cat([torch.ones(L, dtype=torch.bool, device=device),
                           torch.zeros(L, dtype=torch.bool, device=device)])
        return Layout(torch.cat([xt, x0], dim=1), torch.cat([pos, pos]),
                      training_attention_mask(L, b, device), noisy, 0, L)

    def sampling_layout(self, prefix: torch.Tensor) -> Layout:
        """Clean blocks followed by the block being denoised (the last block of `prefix`)."""
        n, b = prefix.shape[1], self.config.block_size
        if n % b != 0 or n > self.config.seq_len:
            raise ValueError(f"prefix length {n} must be a multiple of block_size={b} "
                             f"and at most seq_len={self.config.seq_len}")
        device = prefix.device
        pos = torch.arange(n, device=device)
        attn = self.group_mask if n == b else block_causal_mask(n, b, device)
        return Layout(prefix, pos, attn, pos >= n - b, n - b, n)

    def cached_layout(self, block_tokens: torch.Tensor, start: int) -> Layout:
        """Only the block being denoised (B, b), starting at position `start`; the clean blocks
        before it are in a KVCache passed to `logits`."""
        b = self.config.block_size
        if block_tokens.shape[1] != b or start % b or start + b > self.config.seq_len:
            raise ValueError(f"a cached layout holds one block of {b} tokens at a multiple of {b}")
        device = block_tokens.device
        pos = torch.arange(start, start + b, device=device)
        return Layout(block_tokens, pos, None, torch.ones(b, dtype=torch.bool, device=device), 0, b)

    def new_cache(self) -> KVCache:
        prior_layers = self.config.prior_layers if self.prior_net is not None else 0
        return KVCache(self.config.n_layers * self.config.n_loops, self.config.seq_len, prior_layers)

    @torch.no_grad()
    def extend_cache(self, clean: torch.Tensor, cache: KVCache) -> None:
        """Run finished clean blocks (B, n), n a multiple of block_size, through the trunk once,
        appending their keys/values to `cache` (they sit at positions cache.length onward)."""
        cfg = self.config
        start, n = cache.length, clean.shape[1]
        if n % cfg.block_size or start + n > cfg.seq_len:
            raise ValueError(f"can only cache whole blocks of {cfg.block_size} within seq_len")
        device = clean.device
        pos = torch.arange(start, start + n, device=device)
        attn = None
        if n > cfg.block_size:  # several blocks at once: block-causal among them
            attn = torch.cat([torch.ones(n, start, dtype=torch.bool, device=device),
                              block_causal_mask(n, cfg.block_size, device)], dim=1)
        cond = None
        if cfg.has_conditioning:  # clean context carries the zero conditioning vector
            cond = (torch.zeros(clean.shape[0], 1, cfg.d_model, device=device), None)
        self.trunk(clean, pos, attn, cond, None, cache=cache, extend_cache=True)
        if cache.prior is not None:
            self.prior_net.trunk(clean, pos, attn, cache=cache.prior, extend_cache=True)

    # ------------------------------------------------------------------------------ conditioning
    def _conditioning(self, layout: Layout, t: torch.Tensor | None, z: torch.Tensor | None):
        """(cond, extra) for the trunk. t (B, num_blocks) and z (B, num_blocks, d_z) condition
        the noisy tokens of each block; clean-context tokens get a zero vector. cond is returned as
        (groups (B, num_blocks + 1, D), group_of_token (N,)) so modulations are computed per block."""
        cfg = self.config
        if z is not None and not cfg.is_vmd:
            raise ValueError("a latent z was given to a model without a latent (latent_dim=0)")
        if cfg.is_vmd and z is None:
            raise ValueError("this VMD model needs a latent z (draw one with model.sample_prior)")
        if cfg.reads_xt_only:
            return None, None
        nb = cfg.num_blocks
        group = torch.where(layout.noisy, layout.positions // cfg.block_size,
                            torch.full_like(layout.positions, nb))
        per_block = None
        if cfg.time_conditioning:
            if t is None:
                raise ValueError("this model is time-conditioned: pass t of shape (batch, num_blocks)")
            per_block = self.time_mlp(timestep_embedding(t, cfg.d_model))
        extra = None
        if z is not None:
            latent = self.latent_proj(z)  # (B, nb, D)
            if cfg.latent_injection == "adaln":
                per_block = latent if per_block is None else per_block + latent
            else:
                extra = torch.cat([latent, torch.zeros_like(latent[:, :1])], dim=1)[:, group]
        cond = None
        if per_block is not None:
            if nb == 1 and bool(layout.noisy.all()):
                cond = (per_block, None)  # one block, no clean context: broadcast
            else:
                groups = torch.cat([per_block, torch.zeros_like(per_block[:, :1])], dim=1)
                cond = (groups, group)
        return cond, extra

    def hidden(self, layout: Layout, t: torch.Tensor | None = None,
               z: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states of the noisy positions: (B, noisy_end - noisy_start, D)."""
        cond, extra = self._conditioning(layout, t, z)
        h = self.trunk(layout.tokens, layout.positions, layout.attn_mask, cond, extra, cache=cache)
        return h[:, layout.noisy_start:layout.noisy_end]

    def logits(self, layout: Layout, t: torch.Tensor | None = None,
               z: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        """Raw logits over the vocabulary plus [MASK] for the noisy positions: (B, n, V + 1).

        SUBS (mask logit -inf, clean positions copied) is applied by the consumers through
        `maskdiff.kernels`, which fuse it into the softmax, the sampler and the loss."""
        return self.head(self.hidden(layout, t, z, cache))

    # ------------------------------------------------------------------------------------ latent
    def posterior(self, x0: torch.Tensor, masked: torch.Tensor) -> DiagonalGaussian:
        """q(z | x0, xt) per block: (B, num_blocks, d_z)."""
        if self.encoder is None:
            raise ValueError("this model has no latent (latent_dim=0)")
        return self.encoder(x0, masked)

    def prior(self, layout: Layout, cache: KVCache | None = None) -> DiagonalGaussian | GaussianMixture:
        """p(z | .) for the blocks covering positions [0, noisy_end): (B, noisy_end / b, d_z).
        With a cached layout (one block, the clean blocks before it in `cache`), a learned prior
        reads those through its own cache; the blocks before it get N(0, I) (never used)."""
        cfg = self.config
        if self.encoder is None:
            raise ValueError("this model has no latent (latent_dim=0)")
        if self.prior_net is None:
            # Blocks up to the last noisy position (a cached layout starts mid-sequence).
            blocks = int(layout.positions[layout.noisy_end - 1]) // cfg.block_size + 1
            if self.prior_mixture is not None:
                return self.prior_mixture(layout.tokens.shape[0], blocks)
            shape = (layout.tokens.shape[0], blocks, cfg.latent_dim)
            return DiagonalGaussian.standard(shape, device=layout.tokens.device)
        # The learned prior reads the same layout as the denoiser (xt and the clean context).
        if cache is None:
            return self.prior_net(layout.tokens, layout.positions, layout.attn_mask,
                                  layout.noisy_end)
        block = self.prior_net(layout.tokens, layout.positions, None, layout.noisy_end,
                               cache=cache.prior)  # (B, 1, d_z): the block being decoded
        before = int(layout.positions[0]) // cfg.block_size
        earlier = DiagonalGaussian.standard((layout.tokens.shape[0], before, cfg.latent_dim),
                                            device=layout.tokens.device)
        return DiagonalGaussian(torch.cat([earlier.mean, block.mean], 1),
                                torch.cat([earlier.logvar, block.logvar], 1))

    def latent_noise(self, batch_size: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor | None:
        """Standard-normal noise for reparameterised latents: (B, num_blocks, d_z); None for a
        model without a latent."""
        if self.encoder is None:
            return None
        cfg = self.config
        return torch.randn((batch_size, cfg.num_blocks, cfg.latent_dim), generator=generator,
                           device=device)

    def sample_prior(self, layout: Layout, generator: torch.Generator | None = None,
                     temperature: float = 1.0, cache: KVCache | None = None) -> torch.Tensor | None:
        """z ~ p(z | .) for the blocks covering [0, noisy_end): (B, blocks, d_z); None for a model
        without a latent."""
        if self.encoder is None:
            return None
        return self.prior(layout, cache).sample(generator, temperature)

    def sample_posterior(self, x0: torch.Tensor, masked: torch.Tensor,
                         generator: torch.Generator | None = None,
                         temperature: float = 1.0) -> torch.Tensor | None:
        """z ~ q(z | x0, xt): (B, num_blocks, d_z); None for a model without a latent."""
        if self.encoder is None:
            return None
        return self.posterior(x0, masked).sample(generator, temperature)

    def num_parameters(self, part: str = "all") -> int:
        """Parameter count of 'all', 'decoder' (trunk + head + conditioning) or 'latent'."""
        latent_modules = [m for m in (self.encoder, self.prior_net, self.prior_mixture)
                          if m is not None]
        latent = sum(p.numel() for m in latent_modules for p in m.parameters())
        total = sum(p.numel() for p in self.parameters())
        return {"all": total, "latent": latent, "decoder": total - latent}[part]
