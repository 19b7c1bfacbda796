"""The training pool: many rated unique-solution puzzles from their own stream, none of them a
test puzzle up to symmetry.

    maskdiff sudoku pool --count 50000 --workers 2          (about 20 minutes on 2 cores)

Puzzle i of the pool is `make_indexed_puzzle(POOL_SEED, i)` (the test sets use seed 0, validation
seed 1), so the pool is rebuilt bit for bit by the command and a stopped build resumes. Rows are
written in index order to `pool.csv` (index, puzzle, solution, givens, bucket).

No overlap with the test sets, up to the 3,359,232 grid symmetries and the 9! relabellings: two
puzzles that are symmetric images of each other have symmetric solution grids, and
`grid_invariant` takes the same value on symmetric grids. A pool puzzle whose solution's invariant
differs from every test solution's is therefore provably not a test puzzle in disguise; the few
whose invariant matches (if any) are dropped.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from maskdiff.data import data_home

from .board import parse_board
from .testsets import make_indexed_puzzle

__all__ = ["POOL_SEED", "build_pool", "load_pool", "grid_invariant", "drop_test_overlap",
           "default_pool_path"]

POOL_SEED = 2
HEADER = "index,puzzle,solution,givens,bucket"
_CHUNK = 200


def default_pool_path() -> Path:
    """$MASKDIFF_HOME/sudoku/pool.csv (default home: ~/.cache/maskdiff)."""
    return data_home() / "sudoku" / "pool.csv"


def _cycle_type(a, b) -> tuple[int, ...]:
    """Cycle lengths of the digit permutation that maps line a onto line b, position by position."""
    step = dict(zip(a, b))
    seen, lengths = set(), []
    for start in step:
        if start in seen:
            continue
        n, d = 0, start
        while d not in seen:
            seen.add(d)
            d, n = step[d], n + 1
        lengths.append(n)
    return tuple(sorted(lengths))


def _line_pairs(lines) -> tuple:
    """Multiset over pairs of lines (rows, or columns) of (same band, cycle type)."""
    counts = Counter((i // 3 == j // 3, _cycle_type(lines[i], lines[j]))
                     for i in range(9) for j in range(i + 1, 9))
    return tuple(sorted(counts.items()))


def grid_invariant(solution) -> tuple:
    """The same for a complete grid and every symmetric image of it: for each pair of rows the
    cycle type of the digit permutation between them does not change under column moves or
    relabelling; row moves only reorder pairs (within-band pairs stay within-band); a transpose
    swaps the row and column multisets, so the pair is taken unordered."""
    rows = [solution[9 * r: 9 * r + 9] for r in range(9)]
    cols = [solution[c::9] for c in range(9)]
    return tuple(sorted([_line_pairs(rows), _line_pairs(cols)]))


def _make(indices: range) -> list[dict]:
    return [make_indexed_puzzle(POOL_SEED, i) for i in indices]


def _read(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    if not lines or lines[0] != HEADER:
        raise ValueError(f"{path} is not a puzzle pool (expected the header {HEADER!r})")
    body = lines[1:]
    for n, line in enumerate(body):
        if not line.startswith(f"{n},"):
            raise ValueError(f"{path}, line {n + 2}: expected puzzle {n} of the pool; the file is "
                             "damaged (delete it to rebuild)")
    return body


def build_pool(path: str | Path, count: int, workers: int = 2, progress: bool = True) -> int:
    """Make (or resume) the first `count` pool puzzles into `path`, in index order; returns how
    many the file holds."""
    if count < 1 or workers < 1:
        raise ValueError(f"count and workers must be >= 1, got {count} and {workers}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = len(_read(path))
    if done == 0:
        path.write_text(HEADER + "\n")
    chunks = [range(s, min(s + _CHUNK, count)) for s in range(done, count, _CHUNK)]
    with ProcessPoolExecutor(workers) as pool, path.open("a") as fh:
        for made in pool.map(_make, chunks):  # in order, so the file stays sorted by index
            fh.writelines(f"{r['index']},{r['puzzle']},{r['solution']},{r['givens']},"
                          f"{r['bucket']}\n" for r in made)
            fh.flush()
            done += len(made)
            if progress:
                print(f"  {done:,} / {count:,} puzzles", flush=True)
    return max(done, len(_read(path)))


def load_pool(path: str | Path, limit: int | None = None) -> list[dict]:
    """Pool rows: index, puzzle and solution (tuples), givens, bucket."""
    rows = []
    for line in _read(Path(path))[:limit]:
        index, puzzle, solution, givens, bucket = line.split(",")
        rows.append({"index": int(index), "puzzle": parse_board(puzzle),
                     "solution": parse_board(solution), "givens": int(givens), "bucket": bucket})
    return rows


def drop_test_overlap(rows: list[dict], test_solutions) -> tuple[list[dict], int]:
    """The rows whose solution is provably not a symmetric image of any test solution, and how
    many were dropped."""
    forbidden = {grid_invariant(s) for s in test_solutions}
    kept = [r for r in rows if grid_invariant(r["solution"]) not in forbidden]
    return kept, len(rows) - len(kept)
