"""Fixed-seed Sudoku test sets, one file per difficulty bucket, regenerated bit for bit.

Puzzle i is made from `random.Random(f"{seed}:{i}")` alone (a fresh grid, then givens removed while
the solution stays unique), rated, and appended to its bucket until every bucket holds
`per_bucket` puzzles. Because each puzzle depends only on (seed, i), generation can stop and resume
(progress is kept in a scratch file) and always yields the same files.

    python -m maskdiff.tasks.sudoku.testsets --out tasks/sudoku/data --per-bucket 1000
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from .board import count_solutions, format_board, parse_board, solve
from .generate import RATINGS, make_puzzle, random_grid, rate

__all__ = ["make_indexed_puzzle", "generate_test_sets", "write_test_set", "load_test_set", "HEADER"]

HEADER = "puzzle,solution,givens"
PROGRESS = "progress.jsonl"


def make_indexed_puzzle(seed: int, index: int) -> dict:
    """Puzzle number `index` of the stream for `seed`: puzzle, solution, givens and rating."""
    rng = random.Random(f"{seed}:{index}")
    grid = random_grid(rng)
    puzzle = make_puzzle(grid, rng)
    return dict(index=index, puzzle=format_board(puzzle), solution=format_board(grid),
                givens=sum(1 for v in puzzle if v), bucket=rate(puzzle))


def _read_progress(path: Path, seed: int) -> list[dict]:
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if rows and rows[0].get("seed") != seed:
        raise ValueError(f"{path} was written for seed {rows[0].get('seed')}, not {seed}; "
                         "delete it to start over")
    return rows


def generate_test_sets(out_dir: str | Path, per_bucket: int = 1000, seed: int = 0,
                       max_seconds: float | None = None, progress: bool = True) -> dict[str, int]:
    """Generate (or resume) the test sets; returns the count per bucket written so far.

    Files `<bucket>.csv` are written once every bucket is full; until then progress lives in
    `progress.jsonl`, so a stopped run resumes where it left off."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / PROGRESS
    rows = _read_progress(scratch, seed)
    counts = {b: sum(1 for r in rows if r["bucket"] == b) for b in RATINGS}
    start = time.monotonic()
    with scratch.open("a") as fh:
        index = rows[-1]["index"] + 1 if rows else 0
        while min(counts.values()) < per_bucket:
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                break
            row = make_indexed_puzzle(seed, index)
            row["seed"] = seed
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            rows.append(row)
            counts[row["bucket"]] += 1
            index += 1
            if progress and index % 50 == 0:
                print(f"  {index} puzzles: " + ", ".join(f"{b} {counts[b]}" for b in RATINGS),
                      flush=True)
    if min(counts.values()) >= per_bucket:
        for bucket in RATINGS:
            chosen = [r for r in rows if r["bucket"] == bucket][:per_bucket]
            write_test_set(out / f"{bucket}.csv", chosen)
    return {b: min(c, per_bucket) for b, c in counts.items()}


def write_test_set(path: str | Path, rows: list[dict]) -> None:
    """Write puzzles made by `make_indexed_puzzle` in the test-set format that load_test_set reads."""
    lines = [HEADER] + [f"{r['puzzle']},{r['solution']},{r['givens']}" for r in rows]
    Path(path).write_text("\n".join(lines) + "\n")


def load_test_set(path: str | Path, verify: bool = False) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(puzzle, solution) pairs from a bucket file; `verify` re-checks uniqueness and solutions."""
    lines = Path(path).read_text().splitlines()
    if not lines or lines[0] != HEADER:
        raise ValueError(f"{path} is not a maskdiff Sudoku test set (header {HEADER!r} expected)")
    pairs = []
    for n, line in enumerate(lines[1:], start=2):
        puzzle_text, solution_text, _ = line.split(",")
        puzzle, solution = parse_board(puzzle_text), parse_board(solution_text)
        if verify and (count_solutions(puzzle) != 1 or solve(puzzle) != solution):
            raise ValueError(f"{path}, line {n}: puzzle does not have exactly the recorded solution")
        pairs.append((puzzle, solution))
    return pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Generate the fixed-seed Sudoku test sets.")
    parser.add_argument("--out", type=Path, default=Path("tasks/sudoku/data"))
    parser.add_argument("--per-bucket", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop after this long (run again to resume)")
    args = parser.parse_args(argv)
    counts = generate_test_sets(args.out, args.per_bucket, args.seed, args.max_seconds)
    print("per bucket:", counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
