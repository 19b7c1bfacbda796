"""Sudoku generation: random complete grids, symmetry augmentation, unique puzzles, ratings.

Ratings follow what a human solver needs:
- "singles": naked and hidden singles alone solve the puzzle;
- "strategies": also needs locked candidates (pointing / claiming) or naked/hidden pairs;
- "guessing": those strategies stall, so a solver has to guess and backtrack.
"""

from __future__ import annotations

import random

from .board import (
    ALL,
    BOXES,
    COLS,
    PEERS,
    ROWS,
    UNITS,
    allowed,
    candidates,
    has_other_solution,
)

__all__ = ["random_grid", "augment", "random_symmetry", "apply_symmetry", "make_puzzle", "rate",
           "fill_rounds", "RATINGS"]

RATINGS = ("singles", "strategies", "guessing")


def random_grid(rng: random.Random) -> tuple[int, ...]:
    """A uniformly shuffled complete grid: randomized backtracking from an empty board."""
    board = [0] * 81

    def fill(cell: int) -> bool:
        if cell == 81:
            return True
        mask = allowed(board, cell)
        digits = [d for d in range(1, 10) if mask >> d & 1]
        rng.shuffle(digits)
        for d in digits:
            board[cell] = d
            if fill(cell + 1):
                return True
        board[cell] = 0
        return False

    fill(0)
    return tuple(board)


def random_symmetry(rng: random.Random) -> tuple[list[int], list[int]]:
    """A random validity-preserving symmetry as (source cell of each cell, digit relabelling):
    row permutations within bands, band permutations, column permutations within stacks, stack
    permutations, transpose, and a relabelling of the digits 1-9 (0, a blank, stays 0)."""
    digits = list(range(1, 10))
    rng.shuffle(digits)
    relabel = [0] + digits
    bands = rng.sample(range(3), 3)
    rows = [3 * b + r for b in bands for r in rng.sample(range(3), 3)]
    stacks = rng.sample(range(3), 3)
    cols = [3 * s + c for s in stacks for c in rng.sample(range(3), 3)]
    transpose = rng.random() < 0.5
    source = []
    for r in range(9):
        for c in range(9):
            rr, cc = (cols[c], rows[r]) if transpose else (rows[r], cols[c])
            source.append(9 * rr + cc)
    return source, relabel


def apply_symmetry(board, symmetry: tuple[list[int], list[int]], relabel: bool = True) -> tuple:
    """`board` moved by `symmetry`; relabel=False moves per-cell values that are not digits
    (e.g. a solver's fill round) without relabelling them."""
    source, digits = symmetry
    if relabel:
        return tuple(digits[board[i]] for i in source)
    return tuple(board[i] for i in source)


def augment(board, rng: random.Random) -> tuple[int, ...]:
    """Apply a random validity-preserving symmetry (`random_symmetry`). Blanks (0) stay blank, so
    puzzles and their solutions can be augmented alike (same rng state)."""
    return apply_symmetry(board, random_symmetry(rng))


def make_puzzle(solution, rng: random.Random, min_givens: int = 17) -> tuple[int, ...]:
    """Remove givens in random order while the puzzle keeps exactly one solution (the grid's).
    A removal keeps uniqueness exactly when no solution puts another digit in the blanked cell."""
    board = list(solution)
    cells = list(range(81))
    rng.shuffle(cells)
    givens = 81
    for cell in cells:
        if givens <= min_givens:
            break
        value, board[cell] = board[cell], 0
        if has_other_solution(board, cell, value):
            board[cell] = value
        else:
            givens -= 1
    return tuple(board)


def _place(board, cands, cell, d) -> None:
    board[cell] = d
    cands[cell] = 0
    bit = ~(1 << d)
    for p in PEERS[cell]:
        cands[p] &= bit


def _singles(board, cands) -> bool:
    """Place every naked and hidden single once; True when something was placed."""
    progress = False
    for cell in range(81):
        m = cands[cell]
        if not board[cell] and m and m & (m - 1) == 0:
            _place(board, cands, cell, m.bit_length() - 1)
            progress = True
    for unit in UNITS:
        for d in range(1, 10):
            bit = 1 << d
            spots = [c for c in unit if cands[c] & bit]
            if len(spots) == 1 and not any(board[c] == d for c in unit):
                _place(board, cands, spots[0], d)
                progress = True
    return progress


def _eliminate(cands, cells, mask) -> bool:
    changed = False
    for c in cells:
        if cands[c] & mask:
            cands[c] &= ~mask
            changed = True
    return changed


def _strategies(board, cands) -> bool:
    """One round of locked candidates and naked/hidden pairs; True when a candidate went away."""
    changed = False
    for box in BOXES:  # pointing: a digit confined to one row/column of a box
        for d in range(1, 10):
            spots = [c for c in box if cands[c] >> d & 1]
            if len(spots) < 2:
                continue
            for lines in (ROWS, COLS):
                for line in lines:
                    if all(c in line for c in spots):
                        changed |= _eliminate(cands, [c for c in line if c not in box], 1 << d)
    for lines in (ROWS, COLS):  # claiming: a digit of a line confined to one box
        for line in lines:
            for d in range(1, 10):
                spots = [c for c in line if cands[c] >> d & 1]
                for box in BOXES:
                    if len(spots) >= 2 and all(c in box for c in spots):
                        changed |= _eliminate(cands, [c for c in box if c not in line], 1 << d)
    for unit in UNITS:  # naked pairs
        pairs = [c for c in unit if bin(cands[c]).count("1") == 2]
        for i, a in enumerate(pairs):
            for b in pairs[i + 1:]:
                if cands[a] == cands[b]:
                    changed |= _eliminate(cands, [c for c in unit if c not in (a, b)], cands[a])
    for unit in UNITS:  # hidden pairs
        where = {d: [c for c in unit if cands[c] >> d & 1] for d in range(1, 10)}
        twos = [d for d, s in where.items() if len(s) == 2]
        for i, d1 in enumerate(twos):
            for d2 in twos[i + 1:]:
                if where[d1] == where[d2]:
                    keep = (1 << d1) | (1 << d2)
                    for c in where[d1]:
                        if cands[c] & ~keep & ALL:
                            cands[c] &= keep
                            changed = True
    return changed


def rate(puzzle) -> str:
    """'singles', 'strategies' or 'guessing' (see module docstring)."""
    board = list(puzzle)
    cands = candidates(board)
    level = "singles"
    while not all(board):
        if _singles(board, cands):
            continue
        if _strategies(board, cands):
            level = "strategies"
            continue
        return "guessing"
    return level


def _round_of_singles(board, cands) -> dict[int, int]:
    """Every naked and hidden single of the board as it stands (cell -> digit), none placed."""
    found = {}
    for cell in range(81):
        m = cands[cell]
        if not board[cell] and m and m & (m - 1) == 0:
            found[cell] = m.bit_length() - 1
    for unit in UNITS:
        for d in range(1, 10):
            spots = [c for c in unit if cands[c] >> d & 1]
            if len(spots) == 1 and not any(board[c] == d for c in unit):
                found[spots[0]] = d
    return found


def fill_rounds(puzzle, solution) -> tuple[int, ...]:
    """The round in which a parallel solver fills each cell (0 for givens): each round places
    every naked and hidden single of the board as it stood at the round's start; when there is
    none, locked candidates and pairs prune candidates; when those stall too, the solver guesses
    right: the first cell with the fewest candidates gets its digit from `solution`, as a round
    of its own. The order a model that deduces one round per step would fill the board in."""
    board = list(puzzle)
    cands = candidates(board)
    rounds = [0] * 81
    current = 1
    while not all(board):
        found = _round_of_singles(board, cands)
        if not found:
            if _strategies(board, cands):
                continue
            cell = min((c for c in range(81) if not board[c]), key=lambda c: bin(cands[c]).count("1"))
            found = {cell: solution[cell]}
        for cell, digit in found.items():
            _place(board, cands, cell, digit)
            rounds[cell] = current
        current += 1
    return tuple(rounds)
