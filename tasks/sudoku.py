"""Sudoku as a masked-diffusion task: token mapping, model preset and training data.

Cells are tokens 0..8 (digits 1..9), the [MASK] id is 9. A puzzle's givens are conditioning
(never masked, never changed); its blanks are decoded.
"""

from __future__ import annotations

import random

import torch

from maskdiff.models import ModelConfig
from maskdiff.training import Batch

from .sudoku_board import BOXES
from .sudoku_generate import augment, random_grid

__all__ = ["VOCAB", "MASK_ID", "board_to_tokens", "tokens_to_board", "position_groups",
           "sudoku_model_config", "GridSource"]

VOCAB = 9
MASK_ID = VOCAB


def board_to_tokens(boards) -> torch.Tensor:
    """Boards (N, 81) with 0 for blanks -> token ids (N, 81) with [MASK] for blanks."""
    t = torch.as_tensor(boards, dtype=torch.long)
    return torch.where(t == 0, torch.full_like(t, MASK_ID), t - 1)


def tokens_to_board(tokens: torch.Tensor) -> list[tuple[int, ...]]:
    """Token ids (N, 81) -> boards with 0 where [MASK] remains."""
    t = torch.where(tokens == MASK_ID, torch.zeros_like(tokens), tokens + 1)
    return [tuple(row) for row in t.tolist()]


def position_groups() -> list[list[int]]:
    """Row, column and box of each of the 81 cells."""
    box_of = [0] * 81
    for b, cells in enumerate(BOXES):
        for c in cells:
            box_of[c] = b
    return [[i // 9 for i in range(81)], [i % 9 for i in range(81)], box_of]


def sudoku_model_config(latent_dim: int = 0, d_model: int = 128, n_layers: int = 6,
                        n_heads: int = 4, peer_attention: bool = True, **overrides) -> ModelConfig:
    """The Sudoku denoiser preset: row/column/box embeddings and (by default) attention restricted
    to each cell's 20 peers. latent_dim > 0 gives the VMD form."""
    return ModelConfig(vocab_size=VOCAB, seq_len=81, d_model=d_model, n_layers=n_layers,
                       n_heads=n_heads, latent_dim=latent_dim, position_groups=position_groups(),
                       group_attention=peer_attention, **overrides)


class GridSource:
    """Streams complete grids: a fixed pool of random base grids, each draw freshly augmented by
    one of the 3,359,232 grid symmetries times a digit relabelling. Every cell is maskable."""

    def __init__(self, num_base_grids: int = 3000, seed: int = 0):
        if num_base_grids < 1:
            raise ValueError(f"num_base_grids must be >= 1, got {num_base_grids}")
        rng = random.Random(f"grids:{seed}")
        self.base = [random_grid(rng) for _ in range(num_base_grids)]

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        # The symmetry draw is seeded from the torch generator, so a resumed run continues exactly.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = random.Random(seed)
        grids = [augment(rng.choice(self.base), rng) for _ in range(batch_size)]
        return Batch(board_to_tokens(grids))
