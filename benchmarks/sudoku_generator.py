"""How fast the project makes unique-solution Sudoku puzzles (grid, givens removed while the
solution stays unique, difficulty rating), per process, and what that means for a training pool.

    python benchmarks/sudoku_generator.py --count 300

Writes benchmarks/results/sudoku_generator.json and docs/results/sudoku_generator.md.
"""

import time
from collections import Counter

from maskdiff.results import Benchmark, benchmark_main, markdown_table
from maskdiff.tasks.sudoku.testsets import make_indexed_puzzle

POOL = 50_000


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=300, help="puzzles to make (default 300)")
    parser.add_argument("--seed", type=int, default=2, help="stream seed (0 and 1 are the test "
                        "and validation streams; default 2)")


def run(args) -> tuple[list[dict], dict]:
    rows = []
    t0 = time.perf_counter()
    for i in range(args.count):
        start = time.perf_counter()
        made = make_indexed_puzzle(args.seed, i)
        rows.append({"index": i, "bucket": made["bucket"], "givens": made["givens"],
                     "seconds": round(time.perf_counter() - start, 5)})
    wall = time.perf_counter() - t0
    print(f"{args.count} puzzles in {wall:.1f}s: {args.count / wall:.1f} puzzles/s", flush=True)
    return rows, {"count": args.count, "seed": args.seed, "seconds_total": round(wall, 2)}


def render(rows: list[dict], meta: dict) -> str:
    per = meta["seconds_total"] / meta["count"]
    buckets = Counter(r["bucket"] for r in rows)
    times = sorted(r["seconds"] for r in rows)
    table = markdown_table(
        ["puzzles", "seconds per puzzle (mean)", "median", "95th percentile",
         f"{POOL:,} puzzles, 1 process", f"{POOL:,} puzzles, 2 processes"],
        [[meta["count"], f"{per * 1e3:.1f} ms", f"{times[len(times) // 2] * 1e3:.1f} ms",
          f"{times[int(0.95 * (len(times) - 1))] * 1e3:.1f} ms", f"{POOL * per / 60:.0f} min",
          f"{POOL * per / 120:.0f} min"]])
    mix = ", ".join(f"{b} {100 * n / len(rows):.0f}%" for b, n in sorted(buckets.items()))
    return ("One process makes puzzle i of a seed's stream from that (seed, i) alone: a random grid, "
            "givens removed in random order while no solution puts another digit in the blanked "
            "cell, then a rating by what a solver needs (`tasks/sudoku/generate.py`). The pool "
            f"projections assume the rate holds and puzzles split evenly over processes. Ratings of "
            f"this sample: {mix}.\n\n" + table)


BENCHMARK = Benchmark(name="sudoku_generator", title="Sudoku puzzle generation",
                      add_arguments=add_arguments, run=run, render=render,
                      description="Speed of making rated unique-solution Sudoku puzzles")

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
