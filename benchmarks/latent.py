"""What the VMD latents of saved models carry: KL per board or sequence, active units, mutual
information with the data and the swap test (maskdiff.diagnostics), on each model's own task.

    python benchmarks/latent.py                                  # the shipped Sudoku VMD
    python benchmarks/latent.py --models DIR [DIR ...] --task synthetic

Writes benchmarks/results/latent.json and docs/results/latent.md.
"""

import importlib
import math
from pathlib import Path

from maskdiff.cli import discover_tasks
from maskdiff.diagnostics import latent_diagnostics
from maskdiff.models import load_model, read_config
from maskdiff.results import Benchmark, benchmark_main, markdown_table

SHIPPED_SUDOKU_VMD = "tasks/sudoku/data/models/vmd"


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=[SHIPPED_SUDOKU_VMD],
                        help="VMD model folders (default: the shipped Sudoku VMD)")
    parser.add_argument("--task", default=None,
                        help="task of models saved without a recipe (the shipped Sudoku VMD: sudoku)")
    parser.add_argument("--sequences", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)


def _task_of(folder: str, fallback: str | None) -> tuple[str, dict]:
    config, extra = read_config(folder)
    recipe = extra.get("recipe") or {"model": config.to_dict(), "data": {}}
    task = recipe.get("task") or fallback or ("sudoku" if folder == SHIPPED_SUDOKU_VMD else None)
    if task not in discover_tasks():
        raise ValueError(f"{folder}: no saved recipe names its task; give --task")
    return task, {**recipe, "task": task}


def run(args) -> tuple[list[dict], dict]:
    rows = []
    for folder in args.models:
        task, recipe = _task_of(folder, args.task)
        hooks = importlib.import_module(f"{discover_tasks()[task].__name__}.cli")
        x0, maskable = hooks.latent_batch(recipe, args.sequences, args.seed)
        result = latent_diagnostics(load_model(folder), x0, maskable, seed=args.seed)
        rows.append({"model": str(Path(folder)), "task": task, **result.to_dict()})
    return rows, {"sequences": args.sequences, "seed": args.seed}


def render(rows: list[dict], meta: dict) -> str:
    table = [[f"`{r['model']}`", r["task"], f"{r['kl']:.2f}",
              f"{min(r['kl_per_dim']):.3f} / {max(r['kl_per_dim']):.3f}",
              f"{r['active_units']} of {r['latent_dim']}",
              f"{r['mi']:.3f} (max {len(r['mi_per_block']) * math.log(r['sequences']):.2f})",
              f"{r['swap_own']:.3f}", f"{r['swap_donor']:.3f}", f"{r['swap_prior']:.3f}",
              f"{r['follows_z']:+.3f}"] for r in rows]
    return "\n".join([
        f"Each model's latent on {meta.get('sequences')} sequences of its own task, at the state "
        "decoding starts from (every decodable position masked): KL(q || p) per sequence (nats), "
        "its smallest and largest per dimension, active units (Cov_x E_q[z_d] > 0.01), the mutual "
        "information I(x0; z) under the aggregate posterior (a minibatch estimate, at most log N "
        "per block), and the swap test: token accuracy of one argmax call with the sequence's "
        "own posterior mean, with a donor's mean against the donor, and with the prior mean "
        "against the donor; \"follows z\" is the last two apart (0: the output ignores z).", "",
        markdown_table(["model", "task", "KL", "KL per dim min / max", "active units",
                        "I(x0; z)", "own", "donor", "prior", "follows z"], table), ""])


BENCHMARK = Benchmark(name="latent", title="What the VMD latents carry", add_arguments=add_arguments,
                      run=run, render=render)

if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
