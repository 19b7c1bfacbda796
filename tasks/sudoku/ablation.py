"""Sudoku recipe ablation: which training states, which loss weighting and which trunk, at equal
training compute, with learning curves.

    python benchmarks/sudoku_recipes.py --workers 2          (or: maskdiff sudoku recipes ...)

Every arm is the same denoiser size, batch and number of optimiser steps (so the same samples and,
for the trunks compared here, the same FLOPs per step: a looped 3-layer trunk run twice costs
what the plain 6-layer one does). Each arm trains resumably in `<runs>/<arm>` (one thread per
worker, as many workers as cores), is scored every `eval_every` steps on the pool's validation
puzzles (never trained on, all three ratings), and once trained on the same puzzles at every NFE.
Rows: the final accuracies per arm and NFE with a 95% Wilson interval; the learning curves
(solved share against samples seen); the measured training seconds of each arm.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import torch

from maskdiff.recipe import Recipe
from maskdiff.results import Benchmark, markdown_table
from maskdiff.stats import wilson

from .train import RECIPES, TRAIN_POOL, VALIDATION_POOL, SudokuData, run_recipe

__all__ = ["ARMS", "arm_recipe", "BENCHMARK"]

NFES = [5, 10, 20]
MIXTURE = {"bare": 0.2, "solver": 0.4, "random": 0.4}

# arm -> (what it is, how it differs from the puzzle-state base recipe)
ARMS: dict[str, tuple[str, dict]] = {
    "grids": ("old recipe: random masks of complete grids, ELBO weight", {"grids": True}),
    "random-elbo": ("puzzles, random reveals, ELBO weight", {"reveal": {"random": 1.0}}),
    "random-cell": ("puzzles, random reveals, per-cell mean",
                    {"reveal": {"random": 1.0}, "weighting": "per-cell"}),
    "mix-elbo": ("puzzles, 20% bare / 40% solver order / 40% random, ELBO weight",
                 {"reveal": MIXTURE}),
    "mix-cell": ("puzzles, 20% bare / 40% solver order / 40% random, per-cell mean",
                 {"reveal": MIXTURE, "weighting": "per-cell"}),
    "looped-mix-cell": ("as mix-cell, trunk of 3 layers looped twice (same FLOPs, half the "
                        "parameters)", {"reveal": MIXTURE, "weighting": "per-cell",
                                        "layers": 3, "loops": 2}),
}


def arm_recipe(arm: str, steps: int, eval_every: int, pool: str | None = None) -> Recipe:
    """The recipe of one arm, shortened to `steps` (its warm-up keeps its share)."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {sorted(ARMS)}")
    change = ARMS[arm][1]
    data = _pool_data(pool)
    if change.get("grids"):
        base = RECIPES["mdm"]
        data = replace(data, source="grids")
    else:
        base = RECIPES["mdm-pool"]
        data = replace(data, reveal=change["reveal"])
    model = replace(base.model, n_layers=change.get("layers", base.model.n_layers),
                    n_loops=change.get("loops", 1))
    recipe = replace(base, model=model, data=asdict(data)).shortened(steps)
    train = replace(recipe.train, loss_weighting=change.get("weighting", "elbo"),
                    eval_every=eval_every, checkpoint_every=25)
    return replace(recipe, train=train)


def _pool_data(pool: str | None) -> SudokuData:
    """Every arm's data: the pool's first TRAIN_POOL puzzles train, the next VALIDATION_POOL
    validate (at each of NFES)."""
    return SudokuData(source="pool", pool=pool, pool_size=TRAIN_POOL, validation="pool",
                      validation_size=VALIDATION_POOL, validation_nfes=NFES)


def _train_arm(job: tuple) -> dict:
    arm, steps, eval_every, pool, runs, threads = job
    torch.set_num_threads(threads)
    recipe = arm_recipe(arm, steps, eval_every, pool)
    return run_recipe(recipe, Path(runs) / arm, resume=True, progress=False)


def _curve(run_dir: Path) -> list[dict]:
    """The validation evaluations of a run, in step order (the last run of each step wins)."""
    points = {}
    path = run_dir / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line)
        if "eval" in row:
            points[row["step"]] = row["eval"]
    return [{"step": s, **points[s]} for s in sorted(points)]


def add_arguments(parser) -> None:
    parser.add_argument("--arms", default=",".join(ARMS),
                        help="comma-separated arms (default: all): " + ", ".join(ARMS))
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps per arm")
    parser.add_argument("--eval-every", type=int, default=150)
    parser.add_argument("--runs", type=Path, default=Path("runs/sudoku-ablation"),
                        help="one resumable run folder per arm")
    parser.add_argument("--pool", default=None, help="puzzle pool (default: the data home's)")
    parser.add_argument("--workers", type=int, default=1, help="arms trained at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--train-only", action="store_true",
                        help="train (or resume) the arms and stop; write nothing")


def run(args) -> tuple[list[dict], dict]:
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    for arm in arms:
        arm_recipe(arm, args.steps, args.eval_every)  # fail early on a bad name or setting
    if args.steps < 1 or args.workers < 1 or args.threads < 1:
        raise ValueError("--steps, --workers and --threads must be >= 1")
    jobs = [(a, args.steps, args.eval_every, args.pool, str(args.runs), args.threads) for a in arms]
    t0 = time.perf_counter()
    if args.workers == 1:
        records = [_train_arm(job) for job in jobs]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            records = list(pool.map(_train_arm, jobs))
    if args.train_only:
        raise SystemExit(f"trained {len(arms)} arms in {time.perf_counter() - t0:,.0f} s")
    rows, solvable = [], _solvable_count(args)
    for arm, record in zip(arms, records):
        curve = _curve(args.runs / arm)
        final = curve[-1] if curve else {}
        for nfe in NFES:
            for split, key in (("all", "solved"), ("strategy-solvable", "solvable")):
                share = final.get(f"{key}@{nfe}")
                if share is None:
                    continue
                total = VALIDATION_POOL if split == "all" else solvable
                low, high = wilson(round(share * total), total)
                rows.append({"kind": "final", "arm": arm, "nfe": nfe, "split": split,
                             "accuracy": share, "low": low, "high": high, "puzzles": total,
                             "samples": record["samples_seen"],
                             "train_seconds": record["wall_seconds"],
                             "parameters": record["num_parameters"]})
        for point in curve:
            rows.append({"kind": "curve", "arm": arm, "step": point["step"],
                         "samples": point["step"] * record["train_config"]["batch_size"],
                         **{k: v for k, v in point.items() if "@" in k}})
    meta = {"steps": args.steps, "validation_size": VALIDATION_POOL, "train_pool": TRAIN_POOL,
            "arms": {a: ARMS[a][0] for a in arms}, "workers": args.workers,
            "threads": args.threads}
    return rows, meta


def _solvable_count(args) -> int:
    from .generate import rate
    from .train import recipe_validation

    return sum(rate(p) != "guessing" for p, _ in recipe_validation(_pool_data(args.pool)))


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def render(rows: list[dict], meta: dict) -> str:
    finals = [r for r in rows if r["kind"] == "final"]
    arms = list(dict.fromkeys(r["arm"] for r in finals))
    lines = [
        "Each arm trains the same denoiser size for the same optimiser steps and batch "
        f"({meta.get('steps')} steps), on the first {meta.get('train_pool', 0):,} pool puzzles "
        f"(or, for `grids`, on complete grids), and is scored on the next "
        f"{meta.get('validation_size')} pool puzzles (never trained on), top-prob-margin, a fixed "
        "number of cells per call, argmax digits, no constraint help. Accuracy in % with the 95% "
        "Wilson interval.", ""]
    for split in ("strategy-solvable", "all"):
        table = []
        for arm in arms:
            cells = []
            for nfe in NFES:
                r = next((x for x in finals if x["arm"] == arm and x["nfe"] == nfe
                          and x["split"] == split), None)
                cells.append("-" if r is None else
                             f"{_pct(r['accuracy'])} [{_pct(r['low'])}, {_pct(r['high'])}]")
            first = next(x for x in finals if x["arm"] == arm)
            table.append([f"`{arm}`", meta.get("arms", {}).get(arm, ""), *cells,
                          f"{first['samples']:,}", f"{first['train_seconds']:,.0f}",
                          f"{first['parameters']:,}"])
        puzzles = next((x["puzzles"] for x in finals if x["split"] == split), 0)
        lines += [f"## {split} validation puzzles ({puzzles})", "",
                  markdown_table(["arm", "training states", *[f"NFE {n}" for n in NFES],
                                  "samples", "wall s", "parameters"], table), ""]
    lines += _reading(finals)
    lines += ["## Learning curves", "",
              "![learning curves](../../benchmarks/results/sudoku_recipes.png)", ""]
    return "\n".join(lines)


def _reading(finals: list[dict]) -> list[str]:
    """What the strategy-solvable table says, computed from it: per NFE, the best arm and the arms
    whose 95% intervals overlap the best one's (not distinguishable at this size)."""
    lines = ["## Reading", ""]
    for nfe in NFES:
        rows = [r for r in finals if r["nfe"] == nfe and r["split"] == "strategy-solvable"]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["accuracy"])
        tied = [r["arm"] for r in rows if r is not best and r["high"] >= best["low"]]
        apart = [r["arm"] for r in rows if r["high"] < best["low"]]
        lines.append(f"- NFE {nfe}: best `{best['arm']}` ({_pct(best['accuracy'])}%); within its "
                     f"interval: {', '.join(f'`{a}`' for a in tied) or 'none'}; below it: "
                     f"{', '.join(f'`{a}`' for a in apart) or 'none'}.")
    lines += ["- Wall seconds include evaluations and were measured with two arms sharing the two "
              "cores (and other work on the machine): compare arms by samples, not by seconds.", ""]
    return lines


def headline(rows: list[dict], meta: dict) -> str:
    finals = [r for r in rows if r["kind"] == "final" and r["split"] == "strategy-solvable"]
    arms = list(dict.fromkeys(r["arm"] for r in finals))
    table = [[f"`{a}`", *[_pct(next((r["accuracy"] for r in finals
                                     if r["arm"] == a and r["nfe"] == n), None)) for n in NFES],
              f"{next(r['samples'] for r in finals if r['arm'] == a):,}"] for a in arms]
    return markdown_table(["recipe arm", *[f"NFE {n}" for n in NFES], "training samples"], table)


def figures(rows: list[dict], meta: dict, folder: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [r for r in rows if r["kind"] == "curve"]
    fig, axes = plt.subplots(1, len(NFES), figsize=(4.2 * len(NFES), 3.6), sharey=True)
    for ax, nfe in zip(axes, NFES):
        for arm in dict.fromkeys(r["arm"] for r in curves):
            points = [r for r in curves if r["arm"] == arm and f"solvable@{nfe}" in r]
            ax.plot([p["samples"] for p in points], [100 * p[f"solvable@{nfe}"] for p in points],
                    marker="o", label=arm)
        ax.set_title(f"NFE {nfe}")
        ax.set_xlabel("training samples seen")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("strategy-solvable validation puzzles solved (%)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    path = folder / "sudoku_recipes.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


BENCHMARK = Benchmark(name="sudoku_recipes", title="Sudoku training recipes at equal compute",
                      add_arguments=add_arguments, run=run, render=render, headline=headline,
                      figures=figures,
                      description="Train the recipe arms at equal compute and compare them")
