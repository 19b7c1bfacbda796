"""Text: what the adaptive schedule saves on the text benchmark's trained models.

    python benchmarks/text.py --only bd-b4 mdm       # train the rows' models first (runs/text-bench)
    python benchmarks/text_decoding.py --rows bd-b4 mdm

Writes benchmarks/results/text_decoding.json and docs/results/text_decoding.md.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.text.decoding import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
