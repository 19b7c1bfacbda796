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


# An independent rater for test_ratings: candidate sets rather than bit masks, rules written out
# anew, so a slip in `rate` is not repeated here.
_ROWS = [[9 * r + c for c in range(9)] for r in range(9)]
_COLS = [[9 * r + c for r in range(9)] for c in range(9)]
_BOXES = [[9 * (3 * (b // 3) + r) + 3 * (b % 3) + c for r in range(3) for c in range(3)]
          for b in range(9)]
_UNITS = _ROWS + _COLS + _BOXES


def _deduce(puzzle, strategies: bool) -> list[set[int]]:
    """Candidate sets once naked and hidden singles (and, with `strategies`, locked candidates and
    naked and hidden pairs) find nothing more to remove."""
    cands = [{v} if v else set(range(1, 10)) for v in puzzle]

    def remove(cells, digits) -> bool:
        hit = [c for c in cells if cands[c] & digits]
        for c in hit:
            cands[c] -= digits
        return bool(hit)

    changed = True
    while changed:
        changed = False
        for unit in _UNITS:
            for cell in unit:  # naked single: a settled cell's digit leaves the rest of the unit
                if len(cands[cell]) == 1:
                    changed |= remove([c for c in unit if c != cell], cands[cell])
            for d in range(1, 10):  # hidden single: a digit with one place left in the unit
                spots = [c for c in unit if d in cands[c]]
                if len(spots) == 1 and cands[spots[0]] != {d}:
                    cands[spots[0]], changed = {d}, True
        if changed or not strategies:
            continue
        for box in _BOXES:  # locked candidates, both ways round a box and a line through it
            for line in _ROWS + _COLS:
                if not set(box) & set(line):
                    continue
                for inside, outside in ((box, line), (line, box)):
                    for d in range(1, 10):
                        spots = {c for c in inside if d in cands[c]}
                        if spots and spots <= set(outside):
                            changed |= remove(set(outside) - set(inside), {d})
        for unit in _UNITS:
            for i, a in enumerate(unit):
                for b in unit[i + 1:]:
                    if len(cands[a]) == 2 and cands[a] == cands[b]:  # naked pair
                        changed |= remove([c for c in unit if c not in (a, b)], cands[a])
            where = {d: {c for c in unit if d in cands[c]} for d in range(1, 10)}
            for d1 in range(1, 10):
                for d2 in range(d1 + 1, 10):
                    if len(where[d1]) == 2 and where[d1] == where[d2]:  # hidden pair
                        for c in where[d1]:
                            if cands[c] - {d1, d2}:
                                cands[c], changed = {d1, d2}, True
    return cands


def _independent_rating(puzzle) -> str:
    for level, strategies in (("singles", False), ("strategies", True)):
        if all(len(c) == 1 for c in _deduce(puzzle, strategies)):
            return level
    return "guessing"


def test_ratings(puzzles):
    from maskdiff.tasks.sudoku.benchmark import DATA_DIR
    from maskdiff.tasks.sudoku.board import parse_board
    from maskdiff.tasks.sudoku.testsets import load_test_set

    # A grid with one blank is a naked single.
    one_blank = list(puzzles[0][0])
    one_blank[40] = 0
    assert rate(one_blank) == "singles"
    # Norvig's "hard1" stalls on singles but falls to locked candidates and pairs; "Easter
    # Monster" needs far stronger techniques: guessing.
    hard = parse_board("4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......")
    monster = parse_board("1.......2.9.4...5...6...7...5.9.3.......7.......85..4.7.....6...3...9.8...2.....1")
    assert rate(hard) == "strategies" and rate(monster) == "guessing"
    assert _independent_rating(hard) == "strategies" and _independent_rating(monster) == "guessing"
    # Generated puzzles, and the committed buckets: `rate` agrees with the independent rater, and
    # a puzzle the rater solves by deduction alone is solved to its recorded solution.
    cases = [(p, g, None) for g, p in puzzles]
    for bucket in RATINGS:
        cases += [(p, g, bucket) for p, g in load_test_set(DATA_DIR / f"{bucket}.csv")[:20]]
    seen = set()
    for puzzle, solution, bucket in cases:
        rating = _independent_rating(puzzle)
        assert rate(puzzle) == rating and bucket in (None, rating), (bucket, rating)
        if rating != "guessing":
            assert tuple(min(c) for c in _deduce(puzzle, strategies=True)) == tuple(solution)
        seen.add(rating)
    assert seen == set(RATINGS)  # every rating was put to the test


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
