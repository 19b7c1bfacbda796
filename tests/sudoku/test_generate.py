import random

import pytest

from maskdiff.tasks.sudoku.board import count_solutions, find_conflict, solve
from maskdiff.tasks.sudoku.generate import RATINGS, augment, make_puzzle, random_grid, rate


@pytest.fixture(scope="module")
def puzzles():
    rng = random.Random(0)
    grids = [random_grid(rng) for _ in range(12)]
    return [(g, make_puzzle(g, rng)) for g in grids]


def test_random_grids_are_complete_and_valid():
    rng = random.Random(1)
    for _ in range(20):
        g = random_grid(rng)
        assert all(g) and find_conflict(g) is None


def test_augmentation_preserves_validity_and_pairs():
    rng = random.Random(2)
    grid = random_grid(rng)
    puzzle = make_puzzle(grid, rng)
    for seed in range(10):
        g2 = augment(grid, random.Random(seed))
        p2 = augment(puzzle, random.Random(seed))
        assert all(g2) and find_conflict(g2) is None
        assert sum(1 for v in p2 if v) == sum(1 for v in puzzle if v)
        assert solve(p2) == g2  # the same symmetry maps the puzzle onto the grid's image


def test_generated_puzzles_have_exactly_one_solution(puzzles):
    for grid, puzzle in puzzles:
        assert count_solutions(puzzle, limit=2) == 1
        assert solve(puzzle) == grid
        assert all(p in (0, g) for p, g in zip(puzzle, grid))


def test_ratings(puzzles):
    assert {rate(p) for _, p in puzzles} <= set(RATINGS)
    solution = puzzles[0][0]
    one_blank = list(solution)
    one_blank[40] = 0
    assert rate(one_blank) == "singles"
    from maskdiff.tasks.sudoku.board import parse_board

    # Norvig's "hard1" stalls on singles but falls to locked candidates and pairs
    hard = parse_board("4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......")
    assert rate(hard) == "strategies"
    # "Easter Monster" needs far stronger techniques: guessing
    monster = parse_board("1.......2.9.4...5...6...7...5.9.3.......7.......85..4.7.....6...3...9.8...2.....1")
    assert rate(monster) == "guessing"
