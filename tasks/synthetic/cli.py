"""`maskdiff synthetic ...`: the benchmark table, one model's training, one model's evaluation.

    maskdiff synthetic [bench] [--quick] [--datasets d1 d2 ...] [--out DIR]
    maskdiff synthetic train --dataset d1 --method vmd|vmd-onestep|mdm --blocks 1 --out DIR [--steps N]
    maskdiff synthetic eval --model DIR --dataset d1 --nfe 1 [--samples N] [--temperature T]
"""

from __future__ import annotations

import json
from pathlib import Path

from maskdiff.commandline import add_sampler_arguments, require_positive

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    from maskdiff.results import add_benchmark_command

    from .benchmark import BENCHMARK
    from .train import METHODS

    syn = subparsers.add_parser("synthetic", help="the 2- and 4-token dependency sets (Block MDM vs VMD)")
    sub = syn.add_subparsers(dest="action")
    bench = sub.add_parser("bench", help="train every model and print the paper's table")
    for p in (syn, bench):  # a bare `maskdiff synthetic` runs the benchmark
        add_benchmark_command(p, BENCHMARK)

    tr = sub.add_parser("train", help="train one synthetic model and save it")
    tr.add_argument("--dataset", required=True)
    tr.add_argument("--method", choices=METHODS, required=True)
    tr.add_argument("--blocks", type=int, default=1, help="number of blocks B (default 1)")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the model")
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("eval", help="decode and score a saved synthetic model")
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--nfe", type=int, required=True)
    ev.add_argument("--samples", type=int, default=10_000)
    add_sampler_arguments(ev, "temperature", base_name="the model's recipe")
    ev.set_defaults(handler=_eval)


def _train(args) -> int:
    from .train import run_recipe, synthetic_recipe

    require_positive(steps=args.steps, blocks=args.blocks)
    recipe = synthetic_recipe(args.dataset, args.method, args.blocks, seed=args.seed)
    if args.steps is not None:
        recipe = recipe.shortened(args.steps)
    return _report(run_recipe(recipe, args.out), args.out)


def _report(record: dict, out) -> int:
    label = "objective (not a bound)" if "vmd" in record["method"] else "bound"
    objective = record["objective"]
    shown = "n/a" if objective is None else f"{objective:.4f} nats/token"
    print(f"trained {record['dataset']} {record['method']} B={record['blocks']}: "
          f"{record['steps']} steps in {record['seconds']:.0f}s, training {label} {shown}; "
          f"saved to {out}")
    return 0


def _eval(args) -> int:
    from maskdiff.models import load_model
    from maskdiff.recipe import saved_sampler

    from .train import evaluate_model

    require_positive(nfe=args.nfe, samples=args.samples)
    model = load_model(args.model)
    saved = saved_sampler(args.model)  # the recipe's (temperature 1), else sample at 1
    temperature = args.temperature if args.temperature is not None else (
        saved.temperature if saved is not None else 1.0)
    row = evaluate_model(model, args.dataset, args.nfe, args.samples, temperature)
    print(json.dumps(row, indent=1))
    return 0


def train_from_recipe(recipe, out_dir, resume: bool = True) -> int:
    """The task's hook for `maskdiff train --config`."""
    from .train import run_recipe

    return _report(run_recipe(recipe, out_dir, resume=resume), out_dir)


def latent_batch(recipe: dict, count: int, seed: int):
    """The task's hook for `maskdiff latent`: `count` sequences of the recipe's dataset, every
    position decoded (no conditioning)."""
    import torch

    from .datasets import get_dataset

    dataset = get_dataset(recipe["data"]["dataset"])
    return dataset.sample(count, torch.Generator().manual_seed(seed)).x0, None
