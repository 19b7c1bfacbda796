"""Regenerate the VMD paper's synthetic results: the 4-token table (D1, D2; B in {1, 2}; NFE at one
step per block and one token per step; Block MDM vs VMD) and the 2-token sets.

    python benchmarks/synthetic.py            # full recipe, about 10-15 minutes on 2 CPU cores
    python benchmarks/synthetic.py --quick    # smoke run

Writes benchmarks/results/synthetic.json (one row per dataset/method/blocks/nfe/decoding) and
benchmarks/results/synthetic.md, and prints the table with the published numbers beside ours.
"""

import argparse
from pathlib import Path

from maskdiff.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    argv = ["synthetic", "bench", "--workers", str(args.workers), "--out", str(args.out)]
    raise SystemExit(main(argv + (["--quick"] if args.quick else [])))
