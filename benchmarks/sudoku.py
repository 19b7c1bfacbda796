"""Sudoku: whole-board accuracy against NFE for the shipped MDM and VMD models.

    python benchmarks/sudoku.py                    # NFE 5/10/20/50 x random/top-prob/top-prob-margin
                                                   # x MDM/VMD, + VMD best-of-4, all 1,000 puzzles a bucket
    python benchmarks/sudoku.py --per-bucket 300 --best-of 4 --best-of-nfe 20   # the committed run
    python benchmarks/sudoku.py --render           # rebuild the page from the data file

Besides the fixed schedule (the published protocol), each decoding protocol of
tasks/sudoku/benchmark.py:DECODINGS (adaptive, + remasking, + the peer constraint) gets its own rows
at top-prob-margin (--decodings, --decoding-nfe), with the NFE actually used, and the committed
cells' calibration is measured. Writes benchmarks/results/sudoku.json, sudoku.png,
sudoku_decodings.png and sudoku_calibration.png, docs/results/sudoku.md and the README headline.
Finished rows are cached in benchmarks/results/sudoku_rows.jsonl: a stopped run resumes.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.sudoku.benchmark import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
