"""Sudoku boards: parsing, formatting, validation with precise errors, an exact solver/counter.

A board is a tuple of 81 ints, row-major, 0 for a blank and 1..9 for a digit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PuzzleError", "parse_board", "format_board", "pretty_board", "find_conflict",
           "validate", "solve", "count_solutions", "has_other_solution", "allowed", "candidates",
           "read_puzzle_lines", "PEERS", "UNITS"]

ROWS = [[9 * r + c for c in range(9)] for r in range(9)]
COLS = [[9 * r + c for r in range(9)] for c in range(9)]
BOXES = [[9 * (3 * (b // 3) + i // 3) + 3 * (b % 3) + i % 3 for i in range(9)] for b in range(9)]
UNITS = ROWS + COLS + BOXES
UNIT_NAMES = ([f"row {r + 1}" for r in range(9)] + [f"column {c + 1}" for c in range(9)]
              + [f"box {b + 1}" for b in range(9)])
PEERS = [sorted({p for unit in UNITS if cell in unit for p in unit} - {cell}) for cell in range(81)]
ALL = 0x3FE  # bits 1..9


class PuzzleError(ValueError):
    """A malformed or contradictory puzzle; the message says what and where."""


def parse_board(text: str, check: bool = True) -> tuple[int, ...]:
    """Parse 81 characters ('.' or '0' for blanks, digits 1-9), or a 9-line grid that may use
    spaces and '|', '-', '+' as separators. Raises PuzzleError naming the problem; with
    check=False a digit repeated in a row, column or box is let through (see find_conflict)."""
    if not isinstance(text, str):
        raise PuzzleError(f"a puzzle must be a string, got {type(text).__name__}")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) > 1:
        cells = []
        for ln in lines:
            row = [ch for ch in ln if ch not in " \t|+-"]
            if not row:  # a separator line such as ------+-------+------
                continue
            cells.extend(row)
    else:
        cells = list(text.strip())
    if len(cells) != 81:
        raise PuzzleError(f"a puzzle needs 81 cells, got {len(cells)}")
    board = []
    for i, ch in enumerate(cells):
        if ch in ".0":
            board.append(0)
        elif ch in "123456789":
            board.append(int(ch))
        else:
            raise PuzzleError(f"bad character {ch!r} at row {i // 9 + 1}, column {i % 9 + 1}: "
                              "use digits 1-9 and '.' or '0' for blanks")
    board = tuple(board)
    if check:
        validate(board)
    return board


def read_puzzle_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a puzzle file (UTF-8 text, a byte-order mark allowed). Raises
    FileNotFoundError when there is no such file, and ValueError naming the file when it is not
    text (a binary file, or text in another encoding)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no puzzle file at {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a text file (byte {err.start} is not UTF-8 text); "
                         "give a text file with one puzzle per line") from None
    if "\x00" in text:
        raise ValueError(f"{path} is not a text file (it holds NUL bytes); give a text file "
                         "with one puzzle per line")
    return text.splitlines()


def format_board(board: Iterable[int], blank: str = ".") -> str:
    """The 81-character form."""
    return "".join(str(v) if v else blank for v in board)


def pretty_board(board: Iterable[int]) -> str:
    """A 9-line grid with box separators."""
    b = list(board)
    out = []
    for r in range(9):
        if r in (3, 6):
            out.append("------+-------+------")
        row = [str(v) if v else "." for v in b[9 * r: 9 * r + 9]]
        out.append(" ".join(row[:3]) + " | " + " ".join(row[3:6]) + " | " + " ".join(row[6:]))
    return "\n".join(out)


def find_conflict(board: Iterable[int]) -> str | None:
    """The first repeated digit as 'digit D repeated in row R' (or column/box), else None."""
    b = list(board)
    for unit, name in zip(UNITS, UNIT_NAMES):
        seen = set()
        for cell in unit:
            v = b[cell]
            if v:
                if v in seen:
                    return f"digit {v} repeated in {name}"
                seen.add(v)
    return None


def validate(board: Iterable[int]) -> None:
    """Raise PuzzleError for a wrong size, a value outside 0..9 or a repeated digit."""
    b = list(board)
    if len(b) != 81:
        raise PuzzleError(f"a board has 81 cells, got {len(b)}")
    bad = [i for i, v in enumerate(b) if not (isinstance(v, int) and 0 <= v <= 9)]
    if bad:
        i = bad[0]
        raise PuzzleError(f"cell at row {i // 9 + 1}, column {i % 9 + 1} holds {b[i]!r}; "
                          "expected 0 (blank) or 1-9")
    conflict = find_conflict(b)
    if conflict:
        raise PuzzleError(conflict)


def allowed(board: list[int], cell: int) -> int:
    """Bitmask of the digits no peer of `cell` holds (bit d set = digit d allowed)."""
    used = 0
    for p in PEERS[cell]:
        used |= 1 << board[p]
    return ALL & ~used


def candidates(board: list[int]) -> list[int]:
    """Bitmask of allowed digits per cell (0 for filled cells)."""
    return [0 if board[cell] else allowed(board, cell) for cell in range(81)]


_POPCOUNT = [bin(m).count("1") for m in range(1 << 10)]


def _search(board: list[int], cands: list[int], empties: list[int], limit: int,
            found: list) -> None:
    """Depth-first search with the fewest-candidates cell first (the first such cell in board
    order; digits in increasing order); stops after `limit` solutions. cands[c] is the bitmask
    of digits no peer of the empty cell c holds, kept up to date along the search instead of
    recounted at every node."""
    best, best_count = -1, 10
    for cell in empties:
        count = _POPCOUNT[cands[cell]]
        if count == 0:
            return
        if count < best_count:
            best, best_count = cell, count
            if count == 1:
                break
    if best < 0:
        found.append(tuple(board))
        return
    rest = [c for c in empties if c != best]
    mask = cands[best]
    while mask:
        bit = mask & -mask
        mask ^= bit
        board[best] = bit.bit_length() - 1
        narrowed = cands[:]
        for p in PEERS[best]:
            narrowed[p] &= ~bit
        _search(board, narrowed, rest, limit, found)
        if len(found) >= limit:
            break
    board[best] = 0


def _solutions(board: Iterable[int], limit: int) -> list[tuple[int, ...]]:
    b = list(board)
    found: list = []
    if not find_conflict(b):
        _search(b, candidates(b), [c for c in range(81) if not b[c]], limit, found)
    return found


def has_other_solution(board: list[int], cell: int, value: int) -> bool:
    """Whether the puzzle `board` (with `cell` blank) has a solution where `cell` is not `value`.
    When the puzzle with `cell` = `value` has exactly one solution, this says whether blanking
    `cell` breaks uniqueness, far faster than counting the blanked puzzle's solutions."""
    assert board[cell] == 0
    others = allowed(board, cell) & ~(1 << value)
    for d in range(1, 10):
        if others >> d & 1:
            board[cell] = d
            found = _solutions(board, 1)
            board[cell] = 0
            if found:
                return True
    return False


def count_solutions(board: Iterable[int], limit: int = 2) -> int:
    """Number of solutions, counting at most `limit` (2 answers 'is it unique?')."""
    return len(_solutions(board, limit))


def solve(board: Iterable[int]) -> tuple[int, ...] | None:
    """One solution, or None when the puzzle is contradictory."""
    found = _solutions(board, 1)
    return found[0] if found else None
