"""The `maskdiff` command: two generic commands plus one group per task.

    maskdiff train --config FILE [--out DIR] [--set KEY=VALUE ...]   train any task's recipe
    accelerate launch -m maskdiff train --config FILE                (many processes, same path)
    maskdiff sample --model DIR [--num N] [--nfe N] [--order ...] [--temperature T]
                    [--threshold P] [--remask STRATEGY]
    maskdiff latent --model DIR [--sequences N] [--json]             what a VMD latent carries
    maskdiff <task> ...      every package under maskdiff.tasks with `add_commands` adds its own
"""

from __future__ import annotations

import argparse
import importlib
import math
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


class CommandParser(argparse.ArgumentParser):
    """A parser whose commands report an option they do not know themselves, with their own
    usage (`maskdiff sample: error: unrecognized arguments: --samples 0`), rather than leaving
    it to the top-level `maskdiff` parser, whose usage lists only the commands. Sub-commands
    inherit the class (argparse creates them with the parent's)."""

    has_commands = False

    def add_subparsers(self, **kwargs):
        self.has_commands = True
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not self.has_commands:
            self.error(f"unrecognized arguments: {' '.join(extras)} (the options are listed by "
                       f"`{self.prog} --help`)")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="maskdiff", description=__doc__.split("\n\n")[0])
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

    la = sub.add_parser("latent", help="what a VMD model's latent carries (KL, active units, "
                                       "mutual information, swap test)",
                        description="Diagnoses the latent on sequences of the task the model was "
                                    "trained on (see maskdiff.diagnostics).")
    la.add_argument("--model", type=Path, required=True, help="a saved VMD model folder")
    la.add_argument("--sequences", type=int, default=300,
                    help="sequences to diagnose (default 300; MI is at most log of this)")
    la.add_argument("--task", default=None,
                    help="the task whose data to use (default: the one in the model's recipe)")
    la.add_argument("--seed", type=int, default=0)
    la.add_argument("--json", action="store_true", help="print the numbers as JSON")
    la.set_defaults(handler=_latent)

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


def _latent(args) -> int:
    import json

    from .commandline import require_positive
    from .diagnostics import latent_diagnostics
    from .models import load_model, read_config

    require_positive(sequences=args.sequences)
    if args.sequences < 2:
        raise ValueError("--sequences must be at least 2")
    model = load_model(args.model)
    config, extra = read_config(args.model)
    recipe = extra.get("recipe") or {"task": args.task, "model": config.to_dict(), "data": {}}
    if args.task is not None:
        recipe = {**recipe, "task": args.task}
    tasks = discover_tasks()
    if recipe.get("task") not in tasks:
        raise ValueError(f"{args.model} does not say which task it was trained on (no saved "
                         f"recipe): name it with --task ({', '.join(sorted(tasks))})")
    hooks = importlib.import_module(f"{tasks[recipe['task']].__name__}.cli")
    x0, maskable = hooks.latent_batch(recipe, args.sequences, args.seed)
    result = latent_diagnostics(model, x0, maskable, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    dims = result.kl_per_dim
    print(f"{args.model}: {result.sequences} {recipe['task']} sequences, latent_dim "
          f"{result.latent_dim}, {len(result.kl_per_block)} block(s)")
    print(f"KL(q || p) per sequence  {result.kl:.3f} nats "
          f"(per dimension: min {min(dims):.3f}, mean {sum(dims) / len(dims):.3f}, "
          f"max {max(dims):.3f})")
    if len(result.kl_per_block) > 1:
        print("KL per block            " + " ".join(f"{v:.3f}" for v in result.kl_per_block))
    print(f"active units             {result.active_units} of {result.latent_dim}")
    print(f"I(x0; z)                 {result.mi:.3f} nats (at most {len(result.mi_per_block)} x "
          f"log {result.sequences} = {len(result.mi_per_block) * math.log(result.sequences):.2f})")
    print(f"swap test                own z {result.swap_own:.3f}, donor's z follows the donor "
          f"{result.swap_donor:.3f} vs prior {result.swap_prior:.3f}: follows z by "
          f"{result.follows_z:+.3f}")
    return 0


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
        code = args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"maskdiff: error: {err}", file=sys.stderr)
        return 2
    close_process_group()  # only after success: a barrier after one rank failed would hang
    return code


def close_process_group() -> None:
    """End a launched run's process group before the interpreter exits: left to exit-time
    teardown, a gloo worker can abort ("terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
