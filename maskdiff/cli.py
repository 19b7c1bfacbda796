"""The `maskdiff` command.

    maskdiff synthetic [bench] [--quick] [--datasets d1 d2 ...] [--out DIR]
    maskdiff synthetic train --dataset d1 --method vmd --blocks 1 --out DIR [--steps N]
    maskdiff synthetic eval --model DIR --dataset d1 --nfe 1 [--samples N] [--temperature T]
    maskdiff sample --model DIR [--num N] [--nfe N] [--order ...] [--temperature T]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

__all__ = ["main"]


def _add_synthetic(sub) -> None:
    syn = sub.add_parser("synthetic", help="the 2- and 4-token dependency sets (Block MDM vs VMD)")
    syn_sub = syn.add_subparsers(dest="action")
    bench = syn_sub.add_parser("bench", help="train every model and print the paper's table")
    for p in (syn, bench):
        p.add_argument("--datasets", nargs="+", default=["d1", "d2", "two-uniform", "two-nonuniform"],
                       help="which sets (default: all four)")
        p.add_argument("--quick", action="store_true", help="short training (a smoke run, not the results)")
        p.add_argument("--workers", type=int, default=2, help="parallel training processes (default 2)")
        p.add_argument("--samples", type=int, default=10_000, help="decoded samples per row (default 10000)")
        p.add_argument("--out", type=Path, default=None,
                       help="write synthetic.json and synthetic.md into this folder")

    tr = syn_sub.add_parser("train", help="train one synthetic model and save it")
    tr.add_argument("--dataset", required=True)
    tr.add_argument("--method", choices=("mdm", "vmd"), required=True)
    tr.add_argument("--blocks", type=int, default=1, help="number of blocks B (default 1)")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the model")

    ev = syn_sub.add_parser("eval", help="decode and score a saved synthetic model")
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--nfe", type=int, required=True)
    ev.add_argument("--samples", type=int, default=10_000)
    ev.add_argument("--temperature", type=float, default=1.0)


def _add_sample(sub) -> None:
    from .sampling import METHODS, ORDERS, Z_POLICIES

    sp = sub.add_parser("sample", help="decode sequences from a saved model")
    sp.add_argument("--model", type=Path, required=True, help="folder written by save_model/train")
    sp.add_argument("--num", type=int, default=8, help="number of sequences (default 8)")
    sp.add_argument("--nfe", type=int, default=None, help="denoiser calls (default: one token per step)")
    sp.add_argument("--method", choices=METHODS, default="confidence")
    sp.add_argument("--order", choices=ORDERS, default="top-prob-margin")
    sp.add_argument("--temperature", type=float, default=1.0)
    sp.add_argument("--z-policy", choices=Z_POLICIES, default="fixed")
    sp.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskdiff", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_synthetic(sub)
    _add_sample(sub)
    return parser


def _synthetic_bench(args) -> int:
    from .tasks.synthetic_benchmark import likelihood_table, markdown_table, run_benchmark

    t0 = time.perf_counter()
    print(f"Training Block MDM and VMD on {', '.join(args.datasets)} "
          f"({'quick' if args.quick else 'full'} recipe, {args.workers} workers)...", flush=True)
    rows = run_benchmark(args.datasets, quick=args.quick, workers=args.workers,
                         num_samples=args.samples)
    table = markdown_table(rows) + "\n\n" + likelihood_table(rows)
    print()
    print(table)
    print(f"\nTotal wall time: {time.perf_counter() - t0:.0f}s")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "synthetic.json").write_text(json.dumps(rows, indent=1) + "\n")
        (args.out / "synthetic.md").write_text(table + "\n")
        print(f"Wrote {args.out / 'synthetic.json'} and {args.out / 'synthetic.md'}")
    return 0


def _synthetic_train(args) -> int:
    from .models import save_model
    from .tasks.synthetic_benchmark import recipe_for, train_model

    recipe = recipe_for(args.dataset, args.method)
    if args.steps is not None:
        recipe = replace(recipe, steps=args.steps,
                         kl_warmup_steps=min(recipe.kl_warmup_steps, 2 * args.steps // 3))
    model, result = train_model(args.dataset, args.method, args.blocks, recipe, seed=args.seed,
                                out_dir=args.out / "run")
    save_model(model, args.out, extra={"dataset": args.dataset, "method": args.method,
                                       "blocks": args.blocks, "steps": result.steps})
    last = result.history[-1] if result.history else {}
    print(f"trained {args.dataset} {args.method} B={args.blocks}: {result.steps} steps in "
          f"{result.seconds:.0f}s, bound {last.get('bound', float('nan')):.4f} nats/token; "
          f"saved to {args.out}")
    return 0


def _synthetic_eval(args) -> int:
    from .models import load_model
    from .tasks.synthetic_benchmark import evaluate_model

    model = load_model(args.model)
    row = evaluate_model(model, args.dataset, args.nfe, args.samples, args.temperature)
    print(json.dumps(row, indent=1))
    return 0


def _sample(args) -> int:
    import torch

    from .models import load_model
    from .sampling import SamplerConfig, generate

    model = load_model(args.model)
    config = SamplerConfig(nfe=args.nfe, method=args.method, order=args.order,
                           temperature=args.temperature, z_policy=args.z_policy)
    out = generate(model, batch_size=args.num, config=config,
                   generator=torch.Generator().manual_seed(args.seed))
    for row in out.tokens.tolist():
        print(" ".join(map(str, row)))
    print(f"NFE: {out.nfe}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "synthetic":
            action = args.action or "bench"
            return {"bench": _synthetic_bench, "train": _synthetic_train,
                    "eval": _synthetic_eval}[action](args)
        if args.command == "sample":
            return _sample(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"maskdiff: error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
