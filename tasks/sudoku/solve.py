"""Solving puzzles with a Sudoku model: batched decoding, best-of-K, an honest validity check."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskdiff.models import MaskedDiffusionModel
from maskdiff.sampling import SamplerConfig, generate

from .board import find_conflict
from .model import board_to_tokens, tokens_to_board

__all__ = ["SolveResult", "solve_puzzles", "is_consistent", "BEST_OF_SCORE_NOISE"]

# Gumbel noise on the ranking scores that makes best-of-K trajectories differ (see solve_puzzles).
BEST_OF_SCORE_NOISE = 0.05


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
