"""Block-by-block decoding with and without the KV cache of finished blocks.

    python benchmarks/kv_cache.py                       # L = 512, b = 4, batch 4, 3 repeats
    python benchmarks/kv_cache.py --seq-len 256 --block-size 8

Both paths decode the same tokens (checked here, and in tests/test_sampling.py); without the cache
every denoiser call re-reads the whole clean prefix. Prints min/median/max seconds and the ratio,
and writes benchmarks/results/kv_cache.json. The network is the text benchmark's architecture
(untrained: speed does not depend on the weights).
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from maskdiff import MaskedDiffusionModel, ModelConfig, SamplerConfig, generate


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--block-size", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--d-model", type=int, default=96)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=27, seq_len=args.seq_len, block_size=args.block_size,
                      d_model=args.d_model, n_layers=args.layers, n_heads=4)
    model = MaskedDiffusionModel(cfg).eval()
    times, tokens = {True: [], False: []}, {}
    for r in range(args.repeats):
        for cached in (True, False):
            sampler = SamplerConfig(method="ancestral", temperature=1.0, kv_cache=cached)
            t0 = time.perf_counter()
            out = generate(model, batch_size=args.batch, config=sampler,
                           generator=torch.Generator().manual_seed(r))
            times[cached].append(time.perf_counter() - t0)
            tokens[cached] = out.tokens
            print(f"repeat {r}: {'cached' if cached else 'uncached'} {times[cached][-1]:.2f}s "
                  f"({out.nfe} denoiser calls)", flush=True)
        if not torch.equal(tokens[True], tokens[False]):
            raise SystemExit("cached and uncached decoding disagree")
    summary = {k: {"min": min(v), "median": statistics.median(v), "max": max(v)}
               for k, v in (("cached", times[True]), ("uncached", times[False]))}
    ratio = summary["uncached"]["median"] / summary["cached"]["median"]
    record = {"seq_len": args.seq_len, "block_size": args.block_size, "batch": args.batch,
              "d_model": args.d_model, "n_layers": args.layers, "nfe": out.nfe,
              "repeats": args.repeats, "threads": torch.get_num_threads(),
              "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "seconds": summary, "speedup_median": ratio}
    print(f"L={args.seq_len} b={args.block_size} batch {args.batch}: cached "
          f"{summary['cached']['median']:.2f}s, uncached {summary['uncached']['median']:.2f}s "
          f"(median of {args.repeats}) -> {ratio:.1f}x faster with the KV cache")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kv_cache.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
