"""The `maskdiff` command: two generic commands plus one group per task.

    maskdiff train --config FILE [--out DIR] [--set KEY=VALUE ...]   train any task's recipe
    accelerate launch -m maskdiff train --config FILE                (many processes, same path)
    maskdiff sample --model DIR [--num N] [--nfe N] [--order ...] [--temperature T]
                    [--threshold P] [--remask STRATEGY]
    maskdiff <task> ...      every package under maskdiff.tasks with `add_commands` adds its own
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from .commandline import ADAPTIVE, add_sampler_arguments, add_threads_argument, apply_threads

__all__ = ["main", "build_parser", "discover_tasks"]


def discover_tasks() -> dict[str, object]:
    """name -> task package, for every package under maskdiff.tasks that adds commands."""
    from . import tasks

    found = {}
    for info in pkgutil.iter_modules(tasks.__path__):
        if info.ispkg:
            module = importlib.import_module(f"{tasks.__name__}.{info.name}")
            if hasattr(module, "add_commands"):
                found[info.name] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskdiff", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train a recipe file (JSON or YAML) of any task",
                        description="Trains through accelerate: run it plainly for one process, "
                                    "or under `accelerate launch -m maskdiff train ...` for many. "
                                    "A run folder with a checkpoint is resumed.")
    tr.add_argument("--config", type=Path, required=True,
                    help="recipe file: task, model, train, sampler, data, eval (see maskdiff.recipe)")
    tr.add_argument("--out", type=Path, default=None, help="run folder (default: out_dir of the recipe)")
    tr.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override recipe values, e.g. train.steps=100 model.block_size=4")
    tr.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    add_threads_argument(tr)
    tr.set_defaults(handler=_train)

    sp = sub.add_parser("sample", help="decode sequences from a saved model")
    sp.add_argument("--model", type=Path, required=True, help="folder written by save_model/train")
    sp.add_argument("--num", type=int, default=8, help="number of sequences (default 8)")
    add_sampler_arguments(sp, "nfe", "method", "order", "temperature", "z_policy", *ADAPTIVE,
                          base_name="the model's recipe, else SamplerConfig")
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(handler=_sample)

    for task in discover_tasks().values():
        task.add_commands(sub)
    return parser


def _train(args) -> int:
    from .recipe import Recipe, parse_overrides, read_recipe_file

    apply_threads(args)
    raw = read_recipe_file(args.config, parse_overrides(args.set))
    name = raw.get("task")
    tasks = discover_tasks()
    if name not in tasks:
        raise ValueError(f"{args.config}: unknown task {name!r}; a recipe names one of "
                         f"{sorted(tasks)} (e.g. `task: text`)")
    hooks = importlib.import_module(f"{tasks[name].__name__}.cli")
    if not hasattr(hooks, "train_from_recipe"):
        raise ValueError(f"task {name!r} cannot be trained from a recipe file")
    read = getattr(hooks, "read_recipe", None)  # a task that fills in fields (text: the vocabulary)
    recipe = read(raw, str(args.config)) if read else Recipe.from_dict(raw, source=str(args.config))
    return hooks.train_from_recipe(recipe, args.out or recipe.out_dir, resume=not args.no_resume)


def _sample(args) -> int:
    import torch

    from .commandline import require_positive, sampler_from_args
    from .models import load_model
    from .recipe import saved_sampler
    from .sampling import generate

    require_positive(num=args.num, nfe=args.nfe)
    model = load_model(args.model)
    config = sampler_from_args(args, saved_sampler(args.model))
    out = generate(model, batch_size=args.num, config=config,
                   generator=torch.Generator().manual_seed(args.seed))
    tokenizer_dir = args.model / "tokenizer"  # text models carry their tokenizer
    if tokenizer_dir.is_dir():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        for row in out.tokens.tolist():
            print(tok.decode(row).replace("\n", " | "))
    else:
        for row in out.tokens.tolist():
            print(" ".join(map(str, row)))
    print(f"NFE: {out.nfe} calls; per sequence mean {out.nfe_per_sequence.float().mean():.2f}, "
          f"histogram {out.nfe_histogram()}; "
          f"{out.tokens_per_call:.2f} tokens per call; {out.seconds:.2f}s "
          f"({100 * (1 - out.denoiser_seconds / out.seconds):.1f}% outside denoiser calls)",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"maskdiff: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
