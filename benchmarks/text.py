"""Text: AR, MDM, block diffusion b=4/8, VMD and Block-VMD b=4/8 on character-level Shakespeare,
plus AR and Block-VMD b=4 with the GPT-2 BPE on BBC News, all at one budget per corpus.

    python benchmarks/text.py              # the full table (hours on 2 CPU cores; resumable)
    python benchmarks/text.py --quick      # a smoke run of every row (printed, not written)
    python benchmarks/text.py --render     # rebuild the page from the data file

Writes benchmarks/results/text.json and docs/results/text.md, and the README headline. Run folders
(checkpoints, metrics.jsonl, models) go to runs/text-bench; an interrupted run resumes.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.text.benchmark import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
