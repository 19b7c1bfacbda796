"""Solving puzzles with a Sudoku model: batched decoding, best-of-K, an honest validity check;
chunk by chunk, with a constrained fallback for the boards that come out invalid."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import torch

from maskdiff.models import MaskedDiffusionModel
from maskdiff.sampling import SamplerConfig, generate

from .board import PEERS, count_solutions, find_conflict
from .model import MASK_ID, VOCAB, board_to_tokens, tokens_to_board

__all__ = ["SolveResult", "solve_puzzles", "is_consistent", "peer_constraint", "BEST_OF_SCORE_NOISE",
           "Answer", "solve_in_chunks", "why_contradictory", "FALLBACK_BEST_OF"]

# Gumbel noise on the ranking scores that makes best-of-K trajectories differ (see solve_puzzles).
BEST_OF_SCORE_NOISE = 0.05
# Trajectories of the fallback decoding (solve_in_chunks). Of 16 guessing puzzles the shipped MDM
# got wrong in 20 calls, best-of-4 fixed 8, best-of-8 7 (at twice the cost), best-of-1 3.
FALLBACK_BEST_OF = 4


@dataclass
class SolveResult:
    """boards: one completed board per puzzle; valid: every row/column/box holds 1-9 and the givens
    are kept; nfe: denoiser calls the kept trajectory used (at most the budget: the puzzle's
    number of blanks, capped by the nfe asked for; fewer with an adaptive schedule); budgets: that
    budget per puzzle; trajectories: K of best-of-K (the cost of a puzzle is the calls of all K);
    confidence: per puzzle, the (81,) probability each decoded cell had when committed (NaN at
    givens), of the kept trajectory; seconds / denoiser_seconds: wall time and its part in
    denoiser calls."""

    boards: list
    valid: list[bool]
    nfe: list[int]
    budgets: list[int]
    trajectories: int
    confidence: list[torch.Tensor] = field(default_factory=list)
    seconds: float = 0.0
    denoiser_seconds: float = 0.0


def is_consistent(board, puzzle) -> bool:
    """True when `board` is a complete valid grid that keeps every given of `puzzle`."""
    return all(board) and find_conflict(board) is None and all(
        p in (0, b) for p, b in zip(puzzle, board))


_PEER_MATRIX = torch.zeros(81, 81)
for _cell, _peers in enumerate(PEERS):
    _PEER_MATRIX[_cell, _peers] = 1.0


def peer_constraint(x: torch.Tensor) -> torch.Tensor:
    """The Sudoku rule as a decoding constraint: x (B, 81) tokens -> (B, 81, 9) the digits a
    cell may take, i.e. those not yet placed among its 20 peers."""
    placed = torch.nn.functional.one_hot(x.clamp(max=VOCAB - 1), VOCAB).float()
    placed = placed * (x != MASK_ID)[..., None]  # (B, 81, 9) digits on the board
    taken = torch.einsum("cp,bpd->bcd", _PEER_MATRIX.to(x.device), placed)
    return taken == 0


def solve_puzzles(model: MaskedDiffusionModel, puzzles, *, nfe: int | None = 20,
                  order: str = "top-prob-margin", best_of: int = 1, temperature: float = 0.0,
                  score_noise: float | None = None, generator: torch.Generator | None = None,
                  batch_size: int = 256, constrained: bool = False, **decoding) -> SolveResult:
    """Solve boards (0 = blank) with the model. `nfe` is capped per puzzle at its number of blanks
    (None: one cell per step). With best_of = K, K trajectories per puzzle run in parallel
    (different latents, and Gumbel noise of scale 0.05 on the ranking scores when K > 1 unless
    score_noise says otherwise; at 0.5 the noise swamps the probability scores and every
    trajectory decodes in a near-random order); the first one that satisfies every constraint is
    kept. `decoding` passes further SamplerConfig options (threshold, min_per_call, remask,
    remask_share); `constrained` forbids, at every call, the digits already among a cell's peers
    (results with it are their own protocol, not the network's alone)."""
    t0 = time.perf_counter()
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
    used = [0] * len(puzzles)
    confidence: list = [None] * len(puzzles)
    inside = 0.0
    per_batch = max(1, batch_size // best_of)
    for budget in sorted(set(budgets)):
        todo = [i for i, b in enumerate(budgets) if b == budget]
        if budget == 0:  # nothing to fill in
            for i in todo:
                boards[i], valid[i] = puzzles[i], is_consistent(puzzles[i], puzzles[i])
                confidence[i] = torch.full((81,), float("nan"))
            continue
        config = SamplerConfig(nfe=budget, order=order, temperature=temperature,
                               score_noise=score_noise, **decoding)
        for start in range(0, len(todo), per_batch):
            chunk = todo[start:start + per_batch]
            x = board_to_tokens([puzzles[i] for i in chunk for _ in range(best_of)])
            out = generate(model, x, config=config, generator=generator,
                           constraint=peer_constraint if constrained else None)
            inside += out.denoiser_seconds
            candidates = tokens_to_board(out.tokens)
            for j, i in enumerate(chunk):
                rows = range(j * best_of, (j + 1) * best_of)
                kept = next((r for r in rows if is_consistent(candidates[r], puzzles[i])), rows[0])
                boards[i], valid[i] = candidates[kept], is_consistent(candidates[kept], puzzles[i])
                used[i], confidence[i] = int(out.nfe_per_sequence[kept]), out.confidence[kept].cpu()
    return SolveResult(boards, valid, used, budgets, best_of, confidence,
                       seconds=time.perf_counter() - t0, denoiser_seconds=inside)


@dataclass
class Answer:
    """One puzzle's outcome in solve_in_chunks. path: 'model' (the requested decoding gave a valid
    board), 'fallback' (the fallback decoding did), 'invalid' (neither did; board is the last
    attempt) or 'contradictory' (no completion exists: board is the puzzle, reason says why).
    nfe: the denoiser calls of the requested decoding, then of the fallback's kept trajectory
    when it ran."""

    puzzle: tuple
    board: tuple
    path: str
    nfe: tuple[int, ...]
    reason: str | None = None


def why_contradictory(puzzle) -> str | None:
    """Why `puzzle` has no completion (a repeated digit, or the exact solver finds none), or None."""
    if conflict := find_conflict(puzzle):
        return conflict
    if count_solutions(puzzle, limit=1) == 0:
        return "no completion satisfies every row, column and box"
    return None


def solve_in_chunks(model: MaskedDiffusionModel, puzzles: Iterable, *, chunk_size: int = 256,
                    fallback_best_of: int = FALLBACK_BEST_OF, **options) -> Iterator[list[Answer]]:
    """Solve `puzzles` chunk_size at a time, yielding each chunk's answers (in input order) before
    reading the next chunk, so a caller can print them as they come. `options` go to
    solve_puzzles. A board that comes out invalid is retried: the exact solver first checks the
    puzzle has a completion at all (only then: a valid board already proves one exists, and
    checking every puzzle before decoding held up all output of a long file), then, unless
    fallback_best_of is 0, solve_puzzles decodes it again with the peer constraint, one cell per
    call, best of fallback_best_of trajectories."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if fallback_best_of < 0:
        raise ValueError(f"fallback_best_of must be >= 0, got {fallback_best_of}")
    puzzles = iter(puzzles)
    while chunk := [tuple(p) for p in islice(puzzles, chunk_size)]:
        yield _answer_chunk(model, chunk, fallback_best_of, options)


def _answer_chunk(model, chunk: list, fallback_best_of: int, options: dict) -> list[Answer]:
    first = solve_puzzles(model, chunk, **options)
    answers = [Answer(p, b, "model" if v else "invalid", (n,))
               for p, b, v, n in zip(chunk, first.boards, first.valid, first.nfe)]
    retry = []
    for answer in answers:
        if answer.path == "invalid":
            answer.reason = why_contradictory(answer.puzzle)
            if answer.reason:
                answer.path, answer.board = "contradictory", answer.puzzle
            else:
                retry.append(answer)
    if retry and fallback_best_of:
        _fall_back(model, retry, fallback_best_of, options)
    return answers


def _fall_back(model, answers: list[Answer], best_of: int, options: dict) -> None:
    """Decode the puzzles of `answers` again, constrained, one cell per call (the protocol that
    completes the boards the requested decoding gets wrong most often), and record the outcome."""
    kept = {name: options[name] for name in ("order", "generator", "batch_size") if name in options}
    second = solve_puzzles(model, [a.puzzle for a in answers], nfe=None, best_of=best_of,
                           constrained=True, **kept)
    for answer, board, valid, nfe in zip(answers, second.boards, second.valid, second.nfe):
        answer.board, answer.nfe = board, answer.nfe + (nfe,)
        answer.path = "fallback" if valid else "invalid"
