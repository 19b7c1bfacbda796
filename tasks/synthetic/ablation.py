"""What makes VMD's latent carry D2 in one step: the one-step recipe built up one change at a time,
each arm trained on D2 (B = 1) at the same steps and batch, decoded in one call and diagnosed.

    python benchmarks/synthetic_onestep.py --workers 2     (about 11 minutes on 2 cores)

Arms are cumulative: each adds one change to the arm above it, so a row's difference to the row
above is that change's effect. The two last arms take the prior's fitting back out of the
recipe. Every arm decodes 10,000 sequences in one call (tokens sampled at temperature 1, and
argmax given z) and reports the latent's diagnostics (KL per sequence, active units, I(x0; z),
swap test) on 400 sequences. One seed per arm, so a difference smaller than the seed spread of
the synthetic benchmark's rows (several points on D2) says nothing; the recipe's final rows, with
seeds, are in the synthetic benchmark.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import torch

from maskdiff.diagnostics import latent_diagnostics
from maskdiff.recipe import Recipe
from maskdiff.results import Benchmark, markdown_table

from .datasets import get_dataset
from .train import ONE_STEP_T_MIN, evaluate_model, synthetic_recipe, train_model

__all__ = ["ARMS", "arm_recipe", "BENCHMARK"]

STEPS = 3000
# arm -> (the change it adds, model overrides, train overrides); each arm includes those above it
# unless it is marked as a branch off the last kept arm.
ARMS: dict[str, tuple[str, dict, dict]] = {
    "vmd": ("the VMD recipe: t ~ U(0, 1), N(0, I) prior, lr 2e-3", {}, {}),
    "t-focus": (f"t ~ U({ONE_STEP_T_MIN}, 1): train where a one-call block starts", {},
                {"t_min": ONE_STEP_T_MIN}),
    "mixture": ("+ a 128-component mixture prior", {"prior": "mixture", "prior_components": 128},
                {}),
    "free-bits": ("+ free bits, 1.5 nats per latent dimension (the prior frozen under the floor)",
                  {}, {"free_bits": 1.5, "fit_prior": False}),
    "fit-prior": ("+ the prior keeps fitting the posteriors under the floor", {},
                  {"fit_prior": True}),
    "lr": ("+ lr 1e-2", {}, {"lr": 1e-2}),
    "warmup": ("+ KL warm-up over 1,000 steps, not 2,000: the one-step recipe", {},
               {"kl_warmup_steps": 1000}),
}
# changes tried on top of the last arm and not kept
BRANCHES: dict[str, tuple[str, dict, dict]] = {
    "frozen-prior": ("the recipe with the prior frozen under the floor (fit_prior off)", {},
                     {"fit_prior": False}),
    "frozen-floor-3": ("the same with a floor of 3 nats per dimension", {},
                       {"fit_prior": False, "free_bits": 3.0}),
}


def arm_recipe(arm: str, steps: int = STEPS) -> Recipe:
    """The recipe of one arm on D2, B = 1, at `steps` optimiser steps (warm-ups keep their share)."""
    if arm not in ARMS and arm not in BRANCHES:
        raise ValueError(f"unknown arm {arm!r}; choose from {[*ARMS, *BRANCHES]}")
    chain = list(ARMS)[:list(ARMS).index(arm) + 1] if arm in ARMS else [*ARMS, arm]
    recipe = synthetic_recipe("d2", "vmd", 1)
    model, train = {}, {}
    for name in chain:
        _, m, t = ARMS.get(name) or BRANCHES[name]
        model.update(m)
        train.update(t)
    recipe = replace(recipe, model=replace(recipe.model, **model),
                     train=replace(recipe.train, **train))
    return recipe.shortened(steps) if steps != recipe.train.steps else recipe


def _run_arm(job: dict) -> dict:
    torch.set_num_threads(1)
    recipe = Recipe.from_dict(job["recipe"])
    t0 = time.perf_counter()
    model, result = train_model(recipe)
    seconds = time.perf_counter() - t0
    row = {"arm": job["arm"], "change": job["change"], "steps": result.steps,
           "train_seconds": round(seconds, 1)}
    for decoding, temperature in (("sample", 1.0), ("argmax", 0.0)):
        ev = evaluate_model(model, "d2", nfe=1, num_samples=job["samples"], temperature=temperature)
        row[f"{decoding}_accuracy"], row[f"{decoding}_kl"] = ev["accuracy"], ev["kl"]
    x0 = get_dataset("d2").sample(400, torch.Generator().manual_seed(3)).x0
    d = latent_diagnostics(model, x0)
    row.update(latent_kl=d.kl, active_units=d.active_units, mutual_information=d.mi,
               follows_z=d.follows_z)
    return row


def run_ablation(arms: list[str], steps: int, workers: int, samples: int) -> list[dict]:
    descriptions = {name: spec[0] for name, spec in {**ARMS, **BRANCHES}.items()}
    jobs = [{"arm": a, "change": descriptions[a], "samples": samples,
             "recipe": arm_recipe(a, steps).to_dict()} for a in arms]
    if workers <= 1:
        rows = [_run_arm(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            rows = list(pool.map(_run_arm, jobs))
    for r in rows:
        print(f"  {r['arm']:>10}: {100 * r['sample_accuracy']:.1f}% sampled, KL "
              f"{r['sample_kl']:.3f} ({r['train_seconds']:.0f}s)", flush=True)
    return rows


def add_arguments(parser) -> None:
    parser.add_argument("--arms", nargs="+", default=[*ARMS, *BRANCHES], choices=[*ARMS, *BRANCHES])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps per arm (default {STEPS})")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=10_000, help="decoded sequences per arm")


def run(args) -> tuple[list[dict], dict]:
    from maskdiff.commandline import require_positive

    require_positive(steps=args.steps, workers=args.workers, samples=args.samples)
    rows = run_ablation(args.arms, args.steps, args.workers, args.samples)
    complete = args.arms == [*ARMS, *BRANCHES] and args.steps == STEPS
    return rows, {"smoke": not complete, "steps": args.steps}


def render(rows: list[dict], meta: dict) -> str:
    table = markdown_table(
        ["arm", "change", "sampled accuracy", "KL", "argmax accuracy", "latent KL (nats)",
         "active units", "I(x0; z) (nats)", "follows z", "train s"],
        [[r["arm"], r["change"], f"{100 * r['sample_accuracy']:.1f}%", f"{r['sample_kl']:.3f}",
          f"{100 * r['argmax_accuracy']:.1f}%", f"{r['latent_kl']:.2f}", r["active_units"],
          f"{r['mutual_information']:.2f}", f"{r['follows_z']:.2f}", f"{r['train_seconds']:.0f}"]
         for r in rows])
    return "\n".join([
        f"D2 (100 sequences (k, k+1, l, l+1) mod 10), one block decoded in one call. Each arm adds "
        f"one change to the arm above it and trains {meta.get('steps', STEPS):,} steps of 256 "
        "sequences (2-layer d=64 trunk, 1-layer encoder, d_z = 4, one seed); the last two try a "
        "change on top of the last kept arm. 'KL' is KL(p_data || p_model) of the decoded "
        "samples; I(x0; z) is at most log 100 = 4.61 nats; 'follows z' is how much more often "
        "one argmax call matches a donor sequence when given the donor's latent than when given "
        "the prior mean.", "", table, "",
        "One seed per arm: a difference of a few points is within the spread between seeds, "
        "so the warm-up row says nothing either way (the shorter warm-up was kept because it "
        "made seeds agree). The synthetic benchmark's 'VMD one-step recipe' rows train the "
        "kept changes longer, with three seeds and their spread ([synthetic.md](synthetic.md)).",
    ])


BENCHMARK = Benchmark(name="synthetic_onestep", title="D2 in one step: the one-step recipe, one "
                      "change at a time", add_arguments=add_arguments, run=run, render=render,
                      description="VMD on D2 in one call: each change of the one-step recipe")
