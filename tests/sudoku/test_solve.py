"""Solving: the peer constraint, adaptive decoding within the budget, the per-puzzle accounting."""

import pytest
import torch

from maskdiff import MaskedDiffusionModel
from maskdiff.tasks.sudoku import board_to_tokens, sudoku_model_config
from maskdiff.tasks.sudoku.benchmark import load_buckets
from maskdiff.tasks.sudoku.board import allowed, parse_board
from maskdiff.tasks.sudoku.solve import is_consistent, peer_constraint, solve_in_chunks, solve_puzzles

HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MaskedDiffusionModel(sudoku_model_config(d_model=32, n_layers=1, n_heads=2)).eval()


def test_peer_constraint_allows_exactly_the_digits_no_peer_holds():
    board = parse_board(HARD)
    allowed_digits = peer_constraint(board_to_tokens([board]))[0]  # (81, 9)
    for cell in range(81):
        expected = [bool(allowed(list(board), cell) >> d & 1) for d in range(1, 10)]
        assert allowed_digits[cell].tolist() == expected


def test_adaptive_solving_stays_within_the_budget_and_keeps_givens(model):
    puzzle = parse_board(HARD)
    fixed = solve_puzzles(model, [puzzle] * 3, nfe=10, generator=torch.Generator().manual_seed(0))
    adaptive = solve_puzzles(model, [puzzle] * 3, nfe=10, threshold=0.2, constrained=True,
                             remask="confidence", generator=torch.Generator().manual_seed(0))
    assert fixed.nfe == [10] * 3 and fixed.budgets == [10] * 3
    assert all(1 <= n <= 10 for n in adaptive.nfe)
    for result in (fixed, adaptive):
        for board, conf in zip(result.boards, result.confidence):
            assert all(p in (0, b) for p, b in zip(puzzle, board))
            givens = torch.tensor([v != 0 for v in puzzle])
            assert bool(torch.isnan(conf[givens]).all()) and bool((conf[~givens] > 0).all())
    assert 0 < result.denoiser_seconds <= result.seconds


def test_bad_decoding_options_are_named(model):
    with pytest.raises(ValueError, match="threshold must lie in"):
        solve_puzzles(model, [parse_board(HARD)], nfe=5, threshold=1.5)


def test_chunks_are_yielded_before_the_next_chunk_is_read(model):
    # A caller can print each chunk's lines while the rest of a long file waits its turn.
    puzzles = [p for p, _ in load_buckets(per_bucket=300)["singles"]]
    read = []
    chunks = solve_in_chunks(model, (read.append(p) or p for p in puzzles), chunk_size=64,
                             fallback_best_of=0, nfe=2)
    first = next(chunks)
    assert len(first) == 64 and len(read) == 64, "the first chunk waited for later puzzles"
    assert [a.puzzle for a in first] == puzzles[:64]
    rest = [a for chunk in chunks for a in chunk]
    assert [a.puzzle for a in first + rest] == puzzles


def test_a_contradiction_is_answered_in_its_place_and_the_others_decoded(model):
    # Only wrong boards meet the exact solver; one with no completion is named, not retried.
    puzzles = [p for p, _ in load_buckets(per_bucket=5)["singles"]]
    no_solution = parse_board("." + "23456789" + "1" + "." * 71, check=False)
    puzzles.insert(2, no_solution)
    answers = [a for chunk in solve_in_chunks(model, puzzles, chunk_size=2, nfe=3) for a in chunk]
    assert [a.puzzle for a in answers] == puzzles
    assert answers[2].path == "contradictory" and "no completion" in answers[2].reason
    assert answers[2].board == no_solution and len(answers[2].nfe) == 1
    for answer in answers[:2] + answers[3:]:
        assert answer.path in ("model", "fallback", "invalid")
        assert (answer.path in ("model", "fallback")) == is_consistent(answer.board, answer.puzzle)
        assert len(answer.nfe) == (1 if answer.path == "model" else 2)  # the fallback ran
