"""Block-by-block decoding with and without the KV cache of finished blocks.

    python benchmarks/kv_cache.py                       # L = 512, b = 4, batch 4, 3 repeats
    python benchmarks/kv_cache.py --seq-len 256 --block-size 8

Both paths decode the same tokens (checked here, and in tests/test_sampling.py); without the cache
every denoiser call re-reads the whole clean prefix. Prints min/median/max seconds and the ratio,
and writes benchmarks/results/kv_cache.json and docs/results/kv_cache.md. The network is the text
benchmark's architecture (untrained: speed does not depend on the weights).
"""

import statistics
import time

import torch

from maskdiff import MaskedDiffusionModel, ModelConfig, SamplerConfig, generate
from maskdiff.results import Benchmark, benchmark_main, markdown_table


def add_arguments(p) -> None:
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--block-size", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--d-model", type=int, default=96)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)


def run(args) -> tuple[list[dict], dict]:
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
            raise RuntimeError("cached and uncached decoding disagree")
    rows = [{"decoding": name, "min": min(v), "median": statistics.median(v), "max": max(v)}
            for name, v in (("cached", times[True]), ("uncached", times[False]))]
    ratio = rows[1]["median"] / rows[0]["median"]
    print(f"L={args.seq_len} b={args.block_size} batch {args.batch}: cached "
          f"{rows[0]['median']:.2f}s, uncached {rows[1]['median']:.2f}s "
          f"(median of {args.repeats}) -> {ratio:.1f}x faster with the KV cache")
    meta = {"seq_len": args.seq_len, "block_size": args.block_size, "batch": args.batch,
            "d_model": args.d_model, "n_layers": args.layers, "nfe": out.nfe,
            "repeats": args.repeats, "threads": torch.get_num_threads(), "speedup_median": ratio}
    return rows, meta


def render(rows: list[dict], meta: dict) -> str:
    table = markdown_table(["decoding", "min", "median", "max"],
                           [[r["decoding"], f"{r['min']:.2f} s", f"{r['median']:.2f} s",
                             f"{r['max']:.2f} s"] for r in rows])
    return (f"Block-by-block ancestral decoding of L = {meta['seq_len']} tokens in blocks of "
            f"{meta['block_size']}, batch {meta['batch']}, {meta['nfe']} denoiser calls, an untrained "
            f"d = {meta['d_model']}, {meta['n_layers']}-layer network, {meta['threads']} torch "
            f"thread(s), {meta['repeats']} repeats. Both paths decode identical tokens (checked in "
            f"the run and in the tests). Median speed-up with the cache: "
            f"**{meta['speedup_median']:.1f}x** (goal: 3x).\n\n" + table)


BENCHMARK = Benchmark(name="kv_cache", title="KV cache for block decoding", add_arguments=add_arguments,
                      run=run, render=render,
                      description="Block-by-block decoding with and without the KV cache")

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
