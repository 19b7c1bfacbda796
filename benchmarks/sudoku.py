"""Sudoku: whole-board accuracy against NFE for the shipped MDM and VMD models.

    python benchmarks/sudoku.py                    # NFE 5/10/20/50 x random/top-prob/top-prob-margin
                                                   # x MDM/VMD, + VMD best-of-4
    python benchmarks/sudoku.py --per-bucket 200   # the first 200 puzzles of each bucket only

Writes benchmarks/results/sudoku.json (one row per model/order/nfe/best-of/bucket), sudoku_meta.json
(throughput at NFE 20, the models' training records), sudoku.md (with the published numbers beside
ours) and sudoku.png (accuracy against NFE). Any extra arguments go to `maskdiff sudoku bench`.
"""

import sys
from pathlib import Path

from maskdiff.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(Path(__file__).parent / "results")]
    raise SystemExit(main(["sudoku", "bench", *args]))
