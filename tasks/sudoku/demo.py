"""`maskdiff sudoku demo`: solve one puzzle per bucket on screen, then score the shipped models."""

from __future__ import annotations

import time

import torch

from .benchmark import accuracy_rows, load_buckets
from .board import pretty_board
from .model import SHIPPED, load_sudoku_model
from .solve import solve_puzzles

__all__ = ["run_demo"]


def _side_by_side(*grids: str, gap: str = "    ") -> str:
    return "\n".join(gap.join(parts) for parts in zip(*(g.splitlines() for g in grids)))


def run_demo(per_bucket: int = 100, nfe: int = 20, seed: int = 0) -> int:
    """Solve one puzzle per bucket on screen, then score both shipped models on the first
    `per_bucket` puzzles of each bucket."""
    models = {name: load_sudoku_model(name) for name in SHIPPED}
    buckets = load_buckets(per_bucket)
    t0 = time.perf_counter()
    show = models["vmd"]
    print(f"Shipped VMD model, NFE {nfe}, top-prob-margin: one puzzle per bucket\n")
    for bucket, pairs in buckets.items():
        puzzle, solution = pairs[0]
        result = solve_puzzles(show, [puzzle], nfe=nfe,
                               generator=torch.Generator().manual_seed(seed))
        board = result.boards[0]
        verdict = "valid" if result.valid[0] else "INVALID"
        verdict += " and equal to the recorded solution" if tuple(board) == tuple(solution) else ""
        print(f"{bucket}: {sum(1 for v in puzzle if v)} givens -> {verdict} "
              f"({result.nfe[0]} denoiser calls)")
        print(_side_by_side(pretty_board(puzzle), pretty_board(board)) + "\n")
    rows = accuracy_rows(models, buckets, [nfe], ["top-prob-margin"], best_of=[4],
                         seed=seed, progress=False)
    print(f"Whole-board accuracy, first {per_bucket} puzzles of each committed test set, "
          f"NFE {nfe}, top-prob-margin:\n")
    print("| model | " + " | ".join(buckets) + " |")
    print("|---|" + "---|" * len(buckets))
    for name, k in [(n, 1) for n in models] + [("vmd", 4)]:
        cells = [next(f"{100 * r['accuracy']:.1f}%" for r in rows if r["model"] == name and
                      r["best_of"] == k and r["bucket"] == b) for b in buckets]
        label = models[name].config.method_name.upper() + (f" best-of-{k}" if k > 1 else "")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - t0:.0f}s. Full benchmark: maskdiff sudoku bench --out DIR")
    return 0
