"""Sudoku as a masked-diffusion task: token mapping, the denoiser preset and the shipped models.

Cells are tokens 0..8 (digits 1..9), the [MASK] id is 9. A puzzle's givens are conditioning
(never masked, never changed); its blanks are decoded.
"""

from __future__ import annotations

from pathlib import Path

import torch

from maskdiff.models import MaskedDiffusionModel, ModelConfig, load_model

from .board import BOXES

__all__ = ["VOCAB", "MASK_ID", "board_to_tokens", "tokens_to_board", "position_groups",
           "sudoku_model_config", "load_sudoku_model", "SHIPPED", "SHIPPED_DIR"]

VOCAB = 9
MASK_ID = VOCAB
SHIPPED_DIR = Path(__file__).parent / "data" / "models"
SHIPPED = ("mdm", "vmd")


def load_sudoku_model(name: str | Path) -> MaskedDiffusionModel:
    """'mdm' / 'vmd' (the shipped checkpoints) or a model folder; checks it is a Sudoku model."""
    name = str(name)
    path = SHIPPED_DIR / name if name in SHIPPED else Path(name)
    if name in SHIPPED and not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the shipped {name} Sudoku model is missing ({path}); train it with "
            f"`maskdiff sudoku train --model {name} --out runs/sudoku-{name} --ship`")
    model = load_model(path)
    cfg = model.config
    if (cfg.vocab_size, cfg.seq_len) != (VOCAB, 81):
        raise ValueError(f"{path} is not a Sudoku model (vocab {cfg.vocab_size}, length "
                         f"{cfg.seq_len}; a Sudoku model has vocab 9 and length 81)")
    return model.eval()


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
