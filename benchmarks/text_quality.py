"""Text: generation quality (generative perplexity under the corpus' AR judge, token entropy)
against denoiser calls, on the text benchmark's trained models.

    python benchmarks/text.py --only ar-16x mdm bd-b4 bd-b8 block-vmd-b4 block-vmd-b4-mixture --seeds 0
    python benchmarks/text_quality.py

Writes benchmarks/results/text_quality.json, its figure and docs/results/text_quality.md.
"""

from maskdiff.results import benchmark_main
from maskdiff.tasks.text.nfe_quality import BENCHMARK

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
