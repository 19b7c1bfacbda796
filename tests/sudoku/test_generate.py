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


def test_fill_rounds_follow_a_parallel_solver(puzzles):
    from maskdiff.tasks.sudoku.board import candidates
    from maskdiff.tasks.sudoku.generate import fill_rounds

    for grid, puzzle in puzzles:
        rounds = fill_rounds(puzzle, grid)
        assert [r == 0 for r in rounds] == [v != 0 for v in puzzle]  # givens only in round 0
        # Round 1 holds naked or hidden singles of the bare puzzle, and all of its naked singles.
        cands = candidates(list(puzzle))
        naked = {c for c in range(81) if not puzzle[c] and bin(cands[c]).count("1") == 1}
        first = {c for c in range(81) if rounds[c] == 1}
        assert naked <= first and first
        # The rounds are consecutive: every round fills at least one cell.
        assert set(rounds) == set(range(max(rounds) + 1))


def test_a_symmetry_moves_per_cell_values_without_relabelling_them():
    from maskdiff.tasks.sudoku.generate import apply_symmetry, random_symmetry

    rng = random.Random(3)
    grid = random_grid(rng)
    symmetry = random_symmetry(random.Random(5))
    moved = apply_symmetry(grid, symmetry)
    assert moved == augment(grid, random.Random(5))
    positions = apply_symmetry(tuple(range(81)), symmetry, relabel=False)
    assert sorted(positions) == list(range(81))  # a permutation of the cells
    assert all(moved[i] == symmetry[1][grid[positions[i]]] for i in range(81))
