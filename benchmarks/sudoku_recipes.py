"""Sudoku training recipes at equal compute: puzzle states vs complete grids, reveal mixtures,
ELBO vs per-cell loss weighting, looped vs plain trunk, with learning curves.

    python benchmarks/sudoku_recipes.py --workers 2        # every arm, 600 steps each (resumable)
    python benchmarks/sudoku_recipes.py --render           # rebuild the page from the data file

Writes benchmarks/results/sudoku_recipes.json and sudoku_recipes.png, docs/results/sudoku_recipes.md
and the README headline. Each arm trains in runs/sudoku-ablation/<arm> and resumes after a stop.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.sudoku.ablation import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
