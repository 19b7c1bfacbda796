"""Sudoku as a masked-diffusion task: token mapping, model preset and training data.

Cells are tokens 0..8 (digits 1..9), the [MASK] id is 9. A puzzle's givens are conditioning
(never masked, never changed); its blanks are decoded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from maskdiff.models import MaskedDiffusionModel, ModelConfig, load_model
from maskdiff.sampling import SamplerConfig, generate
from maskdiff.training import Batch

from .sudoku_board import BOXES, find_conflict
from .sudoku_generate import augment, random_grid

__all__ = ["VOCAB", "MASK_ID", "board_to_tokens", "tokens_to_board", "position_groups",
           "sudoku_model_config", "GridSource", "SolveResult", "solve_puzzles", "is_consistent",
           "load_sudoku_model", "SHIPPED_DIR"]

VOCAB = 9
MASK_ID = VOCAB
SHIPPED_DIR = Path(__file__).parent / "data" / "sudoku" / "models"
SHIPPED = ("mdm", "vmd")
BEST_OF_SCORE_NOISE = 0.05


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


@dataclass
class SolveResult:
    """boards: one completed board per puzzle; valid: every row/column/box holds 1-9 and the givens
    are kept; nfe: denoiser calls per puzzle (the budget, capped at the puzzle's number of blanks);
    trajectories: K of best-of-K."""

    boards: list
    valid: list[bool]
    nfe: list[int]
    trajectories: int


def is_consistent(board, puzzle) -> bool:
    """True when `board` is a complete valid grid that keeps every given of `puzzle`."""
    return all(board) and find_conflict(board) is None and all(
        p in (0, b) for p, b in zip(puzzle, board))


def solve_puzzles(model: MaskedDiffusionModel, puzzles, *, nfe: int | None = 20,
                  order: str = "top-prob-margin", best_of: int = 1, temperature: float = 0.0,
                  score_noise: float | None = None, generator: torch.Generator | None = None,
                  batch_size: int = 256) -> SolveResult:
    """Solve boards (0 = blank) with the model. `nfe` is capped per puzzle at its number of blanks
    (None: one cell per step). With best_of = K, K trajectories per puzzle run in parallel
    (different latents, and Gumbel noise of scale 0.05 on the ranking scores when K > 1 unless
    score_noise says otherwise; at 0.5 the noise swamps the probability scores and every
    trajectory decodes in a near-random order); the first one that satisfies every constraint is
    kept."""
    if best_of < 1:
        raise ValueError(f"best_of must be >= 1, got {best_of}")
    if nfe is not None and nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if score_noise is None:
        score_noise = BEST_OF_SCORE_NOISE if best_of > 1 else 0.0
    puzzles = [tuple(p) for p in puzzles]
    budgets = [min(nfe or 81, sum(v == 0 for v in p)) for p in puzzles]
    boards: list = [None] * len(puzzles)
    valid = [False] * len(puzzles)
    per_batch = max(1, batch_size // best_of)
    for budget in sorted(set(budgets)):
        todo = [i for i, b in enumerate(budgets) if b == budget]
        if budget == 0:  # nothing to fill in
            for i in todo:
                boards[i], valid[i] = puzzles[i], is_consistent(puzzles[i], puzzles[i])
            continue
        config = SamplerConfig(nfe=budget, order=order, temperature=temperature,
                               score_noise=score_noise)
        for start in range(0, len(todo), per_batch):
            chunk = todo[start:start + per_batch]
            x = board_to_tokens([puzzles[i] for i in chunk for _ in range(best_of)])
            candidates = tokens_to_board(generate(model, x, config=config,
                                                  generator=generator).tokens)
            for j, i in enumerate(chunk):
                mine = candidates[j * best_of:(j + 1) * best_of]
                ok = [b for b in mine if is_consistent(b, puzzles[i])]
                boards[i], valid[i] = (ok[0], True) if ok else (mine[0], False)
    return SolveResult(boards, valid, budgets, best_of)
