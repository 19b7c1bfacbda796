"""Solving: the peer constraint, adaptive decoding within the budget, the per-puzzle accounting."""

import pytest
import torch

from maskdiff import MaskedDiffusionModel
from maskdiff.tasks.sudoku import board_to_tokens, sudoku_model_config
from maskdiff.tasks.sudoku.board import allowed, parse_board
from maskdiff.tasks.sudoku.solve import peer_constraint, solve_puzzles

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
