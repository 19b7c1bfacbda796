"""The VMD paper's synthetic results: the 4-token table (D1, D2; B in {1, 2}; one step per block
and one token per step; Block MDM vs VMD) and the 2-token sets.

    python benchmarks/synthetic.py            # full recipe, about 12-15 minutes on 2 CPU cores
    python benchmarks/synthetic.py --quick    # a smoke run (printed, not written)
    python benchmarks/synthetic.py --render   # rebuild the page from the data file

Writes benchmarks/results/synthetic.json and docs/results/synthetic.md, and the README headline.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.synthetic.benchmark import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
