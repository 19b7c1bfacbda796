"""D2 in one step: the VMD one-step recipe built up one change at a time, each arm trained and
decoded in one call, with the latent's diagnostics.

    python benchmarks/synthetic_onestep.py --workers 2     # every arm, about 11 minutes on 2 cores
    python benchmarks/synthetic_onestep.py --render        # rebuild the page from the data file

Writes benchmarks/results/synthetic_onestep.json and docs/results/synthetic_onestep.md.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.synthetic.ablation import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
