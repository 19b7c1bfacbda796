"""The synthetic benchmark: Block MDM vs VMD on the 2- and 4-token dependency sets.

Trains one model per (dataset, method, number of blocks) with a fixed recipe, decodes N samples at
each NFE of the paper's table and scores them. Jobs run in worker processes (one torch thread
each), which on a small CPU is faster than one process with several threads for models this size.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from maskdiff.recipe import Recipe
from maskdiff.results import Benchmark, merge_seeds

from .datasets import KL_SMOOTHING, get_dataset
from .train import evaluate_model, likelihood_numbers, synthetic_recipe, train_model

__all__ = ["PAPER_4TOKEN", "run_benchmark", "markdown_table", "likelihood_table", "jobs_for",
           "BENCHMARK"]

# VMD paper, 4-token table: (dataset, blocks, nfe) -> (Block MDM acc, VMD acc, MDM KL, VMD KL).
PAPER_4TOKEN = {
    ("d1", 2, 4): (0.994, 1.000, 0.007, 0.012),
    ("d1", 2, 2): (0.101, 0.942, 2.298, 0.068),
    ("d1", 1, 4): (0.993, 1.000, 0.010, 0.033),
    ("d1", 1, 1): (0.001, 0.873, 9.422, 0.165),
    ("d2", 2, 4): (0.993, 1.000, 0.018, 0.018),
    ("d2", 2, 2): (0.011, 0.886, 7.656, 0.148),
    ("d2", 1, 4): (0.991, 1.000, 0.015, 0.475),
    ("d2", 1, 1): (0.011, 0.800, 7.493, 0.268),
}
PAPER_SOURCE = "Zhang, Schwing, Zhao, Variational Masked Diffusion Models (arXiv 2510.23606), Table 1"


QUICK_STEPS = {"mdm": 300, "vmd": 600, "vmd-onestep": 600}
# The 4-token sets' VMD is the one-step recipe (the paper's recipe, t ~ U(0, 1), is its first arm
# in benchmarks/synthetic_onestep.py); its B = 1 rows over several seeds, mean and spread.
ONE_STEP_SEEDS = (0, 1, 2)
# The adaptive rows: every token at least this likely commits, within one token per step's budget
# (the protocol column of a row: "fixed" when absent).
ADAPTIVE_THRESHOLD = 0.9


def _is_fixed(row: dict) -> bool:
    return row.get("protocol", "fixed") == "fixed"


def jobs_for(datasets, quick: bool = False) -> list[dict]:
    """One job per trained model: its recipe (file form, so it crosses to worker processes)
    and the NFEs it is evaluated at (one step per block and one token per step). VMD on the
    4-token sets is the one-step recipe, at B = 1 over ONE_STEP_SEEDS; the other seeds are
    evaluated at one step per block only (the recipe's purpose; its first seed shows the rest)."""
    jobs = []

    def add(name, method, blocks, nfes, seed=0):
        recipe = synthetic_recipe(name, method, blocks, seed=seed)
        if quick:
            recipe = recipe.shortened(QUICK_STEPS[method])
        jobs.append(dict(dataset=name, method=method, blocks=blocks, seed=seed, nfes=nfes,
                         recipe=recipe.to_dict()))

    for name in datasets:
        L = get_dataset(name).seq_len
        for blocks in ((2, 1) if L == 4 else (1,)):
            nfes = sorted({L, blocks})
            add(name, "mdm", blocks, nfes)
            if L != 4:
                add(name, "vmd", blocks, nfes)
                continue
            seeds = ONE_STEP_SEEDS if blocks == 1 and not quick else ONE_STEP_SEEDS[:1]
            for seed in seeds:
                add(name, "vmd-onestep", blocks, nfes if seed == seeds[0] else [blocks], seed)
    return jobs


def _cost(job: dict) -> float:
    """A job's training work, for ordering only (evaluation left out): sequences x tokens per step
    (a model of several blocks reads its clean blocks beside the noised ones: twice the tokens;
    measured, a step costs about 1.7x), and the latent's encoder."""
    train, model = job["recipe"]["train"], job["recipe"]["model"]
    tokens = model["seq_len"] * (2 if model.get("block_size", model["seq_len"]) < model["seq_len"] else 1)
    return train["steps"] * train["batch_size"] * tokens * (1.5 if model.get("latent_dim") else 1)


def _run_job(job: dict) -> list[dict]:
    torch.set_num_threads(1)
    recipe = Recipe.from_dict(job["recipe"])
    t0 = time.perf_counter()
    model, result = train_model(recipe)
    train_seconds = time.perf_counter() - t0
    ds = get_dataset(job["dataset"])
    one_step = job["method"] == "vmd-onestep"
    # the one-step recipe trains on t near 1 only: its bound would say little, its time is better
    # spent on seeds
    likelihood = {} if one_step else likelihood_numbers(model, job["dataset"])
    decodings = [("sample", 1.0)] + ([("argmax", 0.0)] if job["method"] != "mdm" else [])
    rows = []
    for nfe in job["nfes"]:
        for decoding, temperature in decodings:
            row = dict(dataset=job["dataset"], method=job["method"], blocks=job["blocks"],
                       seed=job["seed"], decoding=decoding, **evaluate_model(model, job["dataset"], nfe,
                                                           job.get("num_samples", 10_000),
                                                           temperature))
            row["factorised_accuracy"] = (ds.factorised_accuracy(job["blocks"])
                                          if nfe == job["blocks"] else None)
            paper = PAPER_4TOKEN.get((job["dataset"], job["blocks"], nfe))
            if paper:
                i = 0 if job["method"] == "mdm" else 1
                row["paper_accuracy"], row["paper_kl"] = paper[i], paper[i + 2]
            row.update(likelihood)
            row.update(train_seconds=round(train_seconds, 1), steps=result.steps,
                       samples_seen=result.samples_seen, d_model=recipe.model.d_model,
                       n_layers=recipe.model.n_layers, latent_dim=recipe.model.latent_dim)
            rows.append(row)
    # The adaptive schedule within one token per step's budget: what it saves on each model.
    L = ds.seq_len
    for decoding, temperature in (decodings if L in job["nfes"] else []):
        row = dict(dataset=job["dataset"], method=job["method"], blocks=job["blocks"],
                   seed=job["seed"], decoding=decoding, **evaluate_model(model, job["dataset"], L,
                                                       job.get("num_samples", 10_000),
                                                       temperature, threshold=ADAPTIVE_THRESHOLD))
        rows.append(row)
    return rows


def run_benchmark(datasets=("d1", "d2", "two-uniform", "two-nonuniform"), quick: bool = False,
                  workers: int = 2, num_samples: int = 10_000, progress: bool = True) -> list[dict]:
    """Train and evaluate every (dataset, method, blocks) job; returns result rows."""
    for name in datasets:
        get_dataset(name)  # fail fast on an unknown name
    jobs = jobs_for(datasets, quick)
    for job in jobs:
        job["num_samples"] = num_samples
    # The slowest jobs first keeps both workers busy to the end.
    jobs.sort(key=_cost, reverse=True)
    rows: list[dict] = []
    if workers <= 1:
        for job in jobs:
            rows.extend(_report(_run_job(job), progress))
    else:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(_run_job, job) for job in jobs]):
                rows.extend(_report(future.result(), progress))
    order = {name: i for i, name in enumerate(datasets)}
    rows.sort(key=lambda r: (not _is_fixed(r), order[r["dataset"]], -r["blocks"], -r["nfe"],
                             r["method"], r["decoding"] != "sample", r.get("seed", 0)))
    return rows


def _report(rows: list[dict], progress: bool) -> list[dict]:
    if progress and rows:
        r = rows[0]
        print(f"  trained {r['dataset']:>14} {r['method']:>3} B={r['blocks']} in "
              f"{r['train_seconds']:.0f}s", flush=True)
    return rows


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x):
    return "-" if x is None else f"{x:.3f}"


def _label(method: str) -> str:
    return {"mdm": "Block MDM", "vmd": "VMD", "vmd-onestep": "VMD one-step recipe"}[method]


def over_seeds(rows: list[dict]) -> list[dict]:
    """One row per (set, B, NFE, method, tokens, protocol), seeds merged (see `merge_seeds`)."""
    return merge_seeds(rows, lambda r: (r["dataset"], r["blocks"], r["nfe"], r["method"],
                                        r["decoding"], r.get("protocol", "fixed")),
                       ("accuracy", "kl", "tv", "nfe_used"))


def _spread(r: dict, field: str, fmt) -> str:
    sd = r.get(f"{field}_sd")
    return fmt(r[field]) if sd is None else f"{fmt(r[field])} +- {fmt(sd)}"


def markdown_table(rows: list[dict]) -> str:
    """One line per (dataset, B, NFE, method, decoding) with the published numbers beside ours."""
    lines = ["| set | B | NFE | method | tokens | accuracy | paper acc | factorised (closed form) "
             "| KL | paper KL | TV |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in over_seeds(rows):
        seeds = f" ({r['seeds']} seeds)" if r["seeds"] > 1 else ""
        lines.append(
            f"| {r['dataset']} | {r['blocks']} | {r['nfe']} | {_label(r['method'])}{seeds} "
            f"| {r['decoding']} | {_spread(r, 'accuracy', _pct)} | {_pct(r.get('paper_accuracy'))} "
            f"| {_pct(r['factorised_accuracy']) if r['method'] == 'mdm' else '-'} "
            f"| {_spread(r, 'kl', _num)} | {_num(r.get('paper_kl'))} | {_spread(r, 'tv', _num)} |")
    lines.append("")
    lines.append(f"KL(p_data || p_model) from {rows[0]['num_samples'] if rows else 0} samples, with "
                 f"{KL_SMOOTHING:g} pseudo-counts on each of the V^L sequences. Tokens: 'sample' "
                 "draws each committed token at temperature 1; 'argmax' commits the most likely "
                 "token given z (VMD's diversity then comes from z alone). Published numbers: "
                 f"{PAPER_SOURCE}.")
    return "\n".join(lines)


def _with_se(value: float, se: float) -> str:
    return f"{value:.4f}" if se == 0 else f"{value:.4f} +- {se:.4f}"


def likelihood_table(rows: list[dict]) -> str:
    """Per trained model: the training objective, a valid bound and the data entropy."""
    lines = ["| set | B | method | objective (nats/token) | valid bound | data entropy |",
             "|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        key = (r["dataset"], r["blocks"], r["method"])
        if key in seen or "objective" not in r:
            continue
        seen.add(key)
        lines.append(f"| {r['dataset']} | {r['blocks']} | {_label(r['method'])} "
                     f"| {_with_se(r['objective'], r['objective_se'])} "
                     f"| {_with_se(r['valid_bound'], r['valid_bound_se'])} | {r['data_entropy']:.4f} |")
    lines.append("")
    lines.append("For Block MDM the objective is the negative ELBO, computed exactly by enumerating the "
                 "support and the mask subsets; it bounds -log p(x0) and never undercuts the data "
                 "entropy. The VMD double-ELBO objective falls below the data entropy, so it is not "
                 "a likelihood bound; the valid VMD bound is the ELBO of its marginal denoiser "
                 "(16 importance samples of z). VMD numbers are Monte Carlo estimates +- one "
                 "standard error.")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--datasets", nargs="+", default=["d1", "d2", "two-uniform", "two-nonuniform"],
                        help="which sets, in table order (default: all four)")
    parser.add_argument("--quick", action="store_true", help="short training (a smoke run, not the results)")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes (default 2)")
    parser.add_argument("--samples", type=int, default=10_000, help="decoded samples per row (default 10000)")


def run(args) -> tuple[list[dict], dict]:
    from maskdiff.commandline import require_positive

    require_positive(workers=args.workers, samples=args.samples)
    for name in args.datasets:
        get_dataset(name)  # an unknown name is refused before anything runs
    print(f"Training Block MDM and VMD on {', '.join(args.datasets)} "
          f"({'quick' if args.quick else 'full'} recipe, {args.workers} workers)...", flush=True)
    rows = run_benchmark(args.datasets, quick=args.quick, workers=args.workers,
                         num_samples=args.samples)
    return rows, {"smoke": args.quick, "workers": args.workers}


def adaptive_table(rows: list[dict]) -> str:
    """Per model and token rule: one token per step (fixed) against the adaptive schedule within
    the same budget, accuracy and mean calls used."""
    adaptive = over_seeds([r for r in rows if not _is_fixed(r)])
    if not adaptive:
        return ""
    fixed = {(r["dataset"], r["blocks"], r["method"], r["decoding"], r["nfe"]): r
             for r in over_seeds([r for r in rows if _is_fixed(r)])}
    lines = ["| set | B | method | tokens | fixed: NFE | accuracy | adaptive: mean NFE used | "
             "accuracy | calls saved |", "|---|---|---|---|---|---|---|---|---|"]
    for r in adaptive:
        f = fixed.get((r["dataset"], r["blocks"], r["method"], r["decoding"], r["nfe"]))
        if f is None:
            continue
        lines.append(f"| {r['dataset']} | {r['blocks']} | {_label(r['method'])} | {r['decoding']} "
                     f"| {f['nfe']} | {_pct(f['accuracy'])} | {r['nfe_used']:.2f} | "
                     f"{_pct(r['accuracy'])} | {1 - r['nfe_used'] / f['nfe']:.0%} |")
    threshold = adaptive[0]["threshold"]
    lines += ["", f"Adaptive: every token at least {threshold} likely commits on top of the fixed "
              "schedule's count (the same random order), within the budget of one token per step; "
              "a sequence stops counting calls when it has no [MASK] left."]
    return "\n".join(lines)


def headline(rows: list[dict], meta: dict) -> str:
    """One-step rows (NFE = number of blocks): where a latent must carry the dependency."""
    rows = over_seeds([r for r in rows if _is_fixed(r)])
    lines = ["| set | B | NFE | Block MDM (closed form) | VMD recipe | VMD sampled (KL) | "
             "VMD argmax | paper VMD (KL) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["method"] != "mdm" or r["nfe"] != r["blocks"]:
            continue
        vmd = {v["decoding"]: v for v in rows if v["method"] != "mdm" and
               (v["dataset"], v["blocks"], v["nfe"]) == (r["dataset"], r["blocks"], r["nfe"])}
        sample, argmax = vmd.get("sample"), vmd.get("argmax")
        if sample is None:
            continue
        seeds = f", {sample['seeds']} seeds" if sample["seeds"] > 1 else ""
        recipe = ("one-step" if sample["method"] == "vmd-onestep" else "paper") + seeds
        paper = (f"{_pct(sample['paper_accuracy'])} ({_num(sample['paper_kl'])})"
                 if sample.get("paper_accuracy") is not None else "-")
        lines.append(f"| {r['dataset']} | {r['blocks']} | {r['nfe']} | {_pct(r['accuracy'])} "
                     f"({_pct(r['factorised_accuracy'])}) | {recipe} "
                     f"| {_spread(sample, 'accuracy', _pct)} ({_num(sample['kl'])}) "
                     f"| {_spread(argmax, 'accuracy', _pct) if argmax else '-'} | {paper} |")
    return "\n".join(lines)


def render(rows: list[dict], meta: dict) -> str:
    adaptive = adaptive_table(rows)
    rows = [r for r in rows if _is_fixed(r)]
    seconds = sum(r["train_seconds"] for r in {(r["dataset"], r["method"], r["blocks"],
                                                 r.get("seed", 0)): r for r in rows}.values())
    return "\n".join([
        "The VMD paper's dependency sets (Section 4): every model is a 2-layer, d=64 transformer "
        "trained from scratch by `tasks/synthetic/train.py:synthetic_recipe` (VMD adds a 1-layer "
        "encoder and a small latent). `B` is the number of blocks, `NFE` the total number of "
        f"denoiser calls; each row decodes {rows[0]['num_samples'] if rows else 0:,} sequences. "
        f"Training all models took {seconds:,.0f} s of worker time.",
        "", "### Accuracy and KL of decoded samples", "", markdown_table(rows), "",
        "### Likelihood: the VMD objective is not a bound", "", likelihood_table(rows), "",
        *(["### Adaptive decoding: calls saved at one token per step's budget", "", adaptive, ""]
          if adaptive else []),
        "### Reading the numbers", "",
        "- A factorised model decoding a block in one step draws every position from its marginal, "
        "so Block MDM must land on the closed-form column at NFE = B: a baseline that does not has "
        "a bug (`tests/synthetic/test_datasets.py` checks the sampler against it with an oracle "
        "denoiser).",
        "- 'argmax' commits the most likely token given z, so all diversity comes from the latent; "
        "'sample' draws every token at temperature 1.",
        "- VMD on the 4-token sets is the one-step recipe (`synthetic_recipe(..., 'vmd-onestep')`): "
        "it trains only where a one-call block starts, t ~ U(0.9, 1), with a 128-component mixture "
        "prior that keeps fitting the posteriors under free bits of 1.5 nats per latent dimension, "
        "and lr 1e-2. The paper's recipe (t ~ U(0, 1), N(0, I)) spends most of its updates on "
        "states one-step decoding never meets; each change's effect on D2 is measured in "
        "[synthetic_onestep.md](synthetic_onestep.md). B = 1 rows at NFE = 1 are the mean +- "
        f"standard deviation over {len(ONE_STEP_SEEDS)} seeds (the other NFEs: the first seed); "
        "the 2-token sets keep the paper's recipe.",
        "- D1 with two blocks stays far below the paper in one step: its second block is fixed by "
        "the first, so a latent there has nothing to carry, yet the recipe's free-bits floor makes "
        "it carry noise, which the decoder follows. Without free bits D1 reached 87% but D2 "
        "collapsed (exploration runs, `benchmarks/results/explorations/onestep_explore.jsonl`); a "
        "floor per block that depends on what the block carries is the open fix.",
        "- The valid VMD bound never undercuts the data entropy; the VMD training objective does "
        "(`docs/maths.md` explains why it is not a likelihood bound).",
    ])


BENCHMARK = Benchmark(name="synthetic", title="Synthetic dependency sets", add_arguments=add_arguments,
                      run=run, render=render, headline=headline,
                      description="The VMD paper's synthetic sets: Block MDM vs VMD, one step per "
                                  "block and one token per step")
