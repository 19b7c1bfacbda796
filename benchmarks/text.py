"""Text: AR, MDM, block diffusion b=4/8, VMD and Block-VMD b=4/8 on character-level Shakespeare,
plus AR and Block-VMD b=4 with the GPT-2 BPE on BBC News, all at one budget per corpus.

    python benchmarks/text.py              # the full table (about an hour on 2 CPU cores)
    python benchmarks/text.py --quick      # a smoke run of every row

Writes benchmarks/results/text.json (one row per model: method, block_size, corpus, tokenizer,
ppl_bound, steps, tokens_seen, ...) and text.md (ratio to AR beside the VMD paper's text8
ratios). Run folders (checkpoints, metrics.jsonl, models) go to runs/text-bench; an interrupted
run resumes. Any extra arguments go to `maskdiff text bench`.
"""

import sys
from pathlib import Path

from maskdiff.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(Path(__file__).parent / "results")]
    raise SystemExit(main(["text", "bench", *args]))
