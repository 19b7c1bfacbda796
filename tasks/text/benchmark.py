"""The text benchmark: AR, MDM, block diffusion, VMD and Block-VMD trained at one budget.

Every row is one `maskdiff train --config` run in its own process (a pool of `workers`), in its
own run folder, so an interrupted benchmark resumes: finished rows are read back from their
results.json, unfinished ones resume from their last checkpoint. Results go to
`text.json` (one row per model and seed) and `text.md` (with the ratio to the AR perplexity of
the same corpus, beside the VMD paper's text8 ratios). A run of some rows (`--only`) or seeds
(`--seeds`) replaces those rows and seeds in the data file and keeps the others; the page names
the run behind each. Rows at 4x and 16x the training steps show the gap with compute.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from statistics import fmean

from maskdiff.recipe import shorten
from maskdiff.results import Benchmark, merge_seeds, read_results
from maskdiff.training import TrainConfig

__all__ = ["ROWS", "BASES", "SCALED", "JUDGES", "budget_table", "run_text_benchmark",
           "markdown_table", "row_config", "BENCHMARK"]

# Two base recipes (file form; the vocabulary size comes from the tokenizer); the rows differ
# only in block size and latent. The same trunk and token budget for every row of a corpus.
_MODEL = {"seq_len": 64, "d_model": 96, "n_layers": 4, "n_heads": 4, "schedule": "linear"}
_TRAIN = {"lr": 1e-3, "min_lr_ratio": 0.1, "warmup_steps": 100, "ema_decay": 0.999,
          "checkpoint_every": 100, "eval_every": 500, "log_every": 25, "mixed_precision": "no"}
_EVAL = {"passes": 4, "max_sequences": 256, "num_latents": 16, "samples": 2}
BASES = {
    "shakespeare": {"task": "text", "model": _MODEL,
                    "train": {**_TRAIN, "steps": 1500, "batch_size": 32},
                    "data": {"corpus": "shakespeare", "tokenizer": "char"}, "eval": _EVAL},
    # With 50k-token logits every latent sample costs a full softmax: a smaller evaluation.
    "bbc-news": {"task": "text", "model": _MODEL,
                 "train": {**_TRAIN, "steps": 600, "batch_size": 32},
                 "data": {"corpus": "bbc-news", "tokenizer": "gpt2"},
                 "eval": {**_EVAL, "passes": 2, "max_sequences": 128, "num_latents": 8}},
}
VMD = {"latent_dim": 8}
# Free bits: without them the latent collapsed (KL ~1e-5 nats/token by the end, VMD = MDM).
VMD_TRAIN = {"kl_warmup_steps": 300, "free_bits": 0.1}

# name -> (base recipe, model overrides)
ROWS = {
    "ar": ("shakespeare", {"block_size": 1}),
    "mdm": ("shakespeare", {}),
    "bd-b4": ("shakespeare", {"block_size": 4}),
    "bd-b8": ("shakespeare", {"block_size": 8}),
    "vmd": ("shakespeare", VMD),
    "block-vmd-b4": ("shakespeare", {"block_size": 4, **VMD}),
    "block-vmd-b8": ("shakespeare", {"block_size": 8, **VMD}),
    # Block-VMD b=4 with the other priors: p(z_k | x^<k, xt_k) learned, a learned mixture
    "block-vmd-b4-learned": ("shakespeare", {"block_size": 4, **VMD, "prior": "learned"}),
    "block-vmd-b4-mixture": ("shakespeare", {"block_size": 4, **VMD, "prior": "mixture",
                                             "prior_components": 16}),
    "bbc-ar": ("bbc-news", {"block_size": 1}),
    "bbc-block-vmd-b4": ("bbc-news", {"block_size": 4, **VMD}),
}
# The gap with compute: a row repeated at a multiple of its corpus' training steps (one seed
# each: these are the long runs). The largest AR is also its corpus' judge of generated text
# (`tasks/text/nfe_quality.py`).
BUDGETS = (4, 16)
SCALED = {f"{row}-{factor}x": (row, factor) for row in ("ar", "mdm") for factor in BUDGETS}
JUDGES = {"shakespeare": f"ar-{max(BUDGETS)}x"}
# Rows a full run trains with its first seed only (the long runs, and a prior variant that lost
# to the others at seed 0); `--only ROW --seeds ...` trains any seeds of them. The mixture prior
# was the best at seed 0 and has every seed.
ONE_SEED = {*SCALED, "block-vmd-b4-learned"}
# The rows whose bits are split by block on the page (block diffusion against each Block-VMD).
BITS_BY_BLOCK_ROWS = {name for name in ROWS if name.startswith(("bd-b", "block-vmd-b"))}
QUICK_STEPS = 6
# Every row is trained with each of these seeds; tables show the mean and standard deviation.
SEEDS = (0, 1, 2)

# The README's prompted sample: this row's seed-0 model continues this prompt, through the command.
SAMPLE_ROW, SAMPLE_PROMPT = "block-vmd-b4", "to be or not to be"

# The VMD paper's text8 table (test perplexity; diffusion rows are bounds) and ratios to AR.
PAPER_TEXT8 = {"ar": 2.603, "mdm": 3.498, "bd-b4": 2.873, "bd-b8": 3.126,
               "block-vmd-b4": 2.858, "block-vmd-b8": 3.125}


def row_config(name: str, quick: bool = False, seed: int = 0) -> dict:
    """The recipe of one row, in file form (what `maskdiff train --config` reads)."""
    if name in SCALED:
        row, factor = SCALED[name]
        config = row_config(row, quick, seed)
        if not quick:
            config["train"]["steps"] *= factor
        return config
    base, model = ROWS[name]
    config = {**BASES[base], "model": {**BASES[base]["model"], **model}}
    train = {**config["train"], **(VMD_TRAIN if model.get("latent_dim") else {})}
    if seed:  # seed 0 is TrainConfig's default: its recipes (and run folders) stay as they were
        train["seed"] = seed
    if quick:  # a smoke run: the recipe shortened by the one rule, light logging and evaluation
        train = asdict(shorten(TrainConfig(**train), QUICK_STEPS))
        train.update(checkpoint_every=3, eval_every=0, log_every=2)
        config["eval"] = {**config["eval"], "passes": 2, "max_sequences": 8, "num_latents": 2,
                          "samples": 1}
    return {**config, "train": train}


def _run_row(name: str, seed: int, runs: Path, quick: bool) -> dict:
    folder = runs / (name if seed == 0 else f"{name}-seed{seed}")
    results = folder / "results.json"
    config = row_config(name, quick, seed)
    if results.is_file():
        record = json.loads(results.read_text())
        record.setdefault("seed", seed)  # records from before seeds were named
        if record.get("bench_config") == config:
            return _with_loss_by_block(folder, record, config)
        if _same_training(record.get("bench_config"), config):
            record = _reevaluate(folder, record, config)  # only the evaluation changed
            return _with_loss_by_block(folder, record, config)
    cfg_path = folder / "run_config.json"
    if cfg_path.is_file() and not _same_training(json.loads(cfg_path.read_text()), config):
        shutil.rmtree(folder)  # a run of another recipe: its checkpoint must not be resumed
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(json.dumps(config, indent=1))
    log = (folder / "train.log").open("a")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "maskdiff", "train", "--config", str(cfg_path), "--out",
           str(folder), "--threads", "1"]
    env = {**os.environ, "TQDM_MININTERVAL": "30"}
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"text benchmark row {name} failed (exit {proc.returncode}); "
                           f"see {folder / 'train.log'}")
    record = json.loads(results.read_text())
    record.update(name=name, seed=seed, bench_config=config,
                  wall_seconds_this_call=round(time.perf_counter() - t0, 1))
    results.write_text(json.dumps(record, indent=1) + "\n")
    print(f"  {name} seed {seed}: perplexity <= {record['ppl_bound']:.3f} "
          f"({record['train_seconds']:.0f}s training)", flush=True)
    return _with_loss_by_block(folder, record, config)


def _with_loss_by_block(folder: Path, record: dict, config: dict) -> dict:
    """A block model's record gains where its bits go, block by block (`loss_by_block`), once."""
    if "loss_by_block" in record or record.get("name") not in BITS_BY_BLOCK_ROWS:
        return record
    import torch
    torch.set_num_threads(1)  # beside single-threaded training processes
    from .streams import pack, prepare_text
    from .train import EvalSettings, load_text_model, loss_by_block

    model, _, text = load_text_model(folder / "model")
    settings = EvalSettings(**config["eval"])
    data = prepare_text(text["corpus"], text["tokenizer"])
    sequences = pack(data.streams["test"], model.config.seq_len, settings.max_sequences)
    record["loss_by_block"] = {**loss_by_block(model, sequences, settings),
                               "passes": settings.passes, "sequences": len(sequences)}
    (folder / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _same_training(old: dict | None, new: dict) -> bool:
    strip = lambda c: {k: v for k, v in c.items() if k != "eval"}  # noqa: E731
    return old is not None and strip(old) == strip(new)


def _reevaluate(folder: Path, record: dict, config: dict) -> dict:
    from maskdiff.recipe import saved_sampler

    from .streams import prepare_text
    from .train import DEFAULT_SAMPLER, EvalSettings, evaluate_text_model, load_text_model

    model, _, text = load_text_model(folder / "model")
    data = prepare_text(text["corpus"], text["tokenizer"])
    record.pop("loss_by_block", None)  # measured under the old evaluation settings
    record.update(evaluate_text_model(model, data, EvalSettings(**config["eval"]),
                                      sampler=saved_sampler(folder / "model") or DEFAULT_SAMPLER))
    record["bench_config"] = config
    (folder / "run_config.json").write_text(json.dumps(config, indent=1))
    (folder / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"  {record['name']}: re-evaluated, perplexity <= {record['ppl_bound']:.3f}", flush=True)
    return record


def _at_one_budget(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["name"] not in SCALED]


def budget_table(rows: list[dict]) -> str:
    """The ratio to AR at each training budget (x the corpus' steps) where both rows exist."""
    by_name = {r["name"]: r for r in over_seeds(rows)}
    lines = []
    for factor in (1, *BUDGETS):
        suffix = "" if factor == 1 else f"-{factor}x"
        ar, mdm = by_name.get("ar" + suffix), by_name.get("mdm" + suffix)
        if ar and mdm:
            lines.append(f"| {factor}x | {ar['steps']:,} | {ar['tokens_seen']:,} | {_ppl(ar)} | "
                         f"{_ppl(mdm)} | {mdm['ppl_bound'] / ar['ppl_bound']:.3f} |")
    if len(lines) < 2:
        return ""
    return ("\n\n### The gap with compute (Shakespeare)\n\nMDM against AR at 1x, "
            f"{', '.join(f'{k}x' for k in BUDGETS)} the training steps (same trunk and batch; the "
            "larger budgets are one seed each; the learning-rate schedule stretches with the "
            "steps).\n\n| budget | steps | tokens seen | AR ppl | MDM ppl (bound) | ratio to AR |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(lines))


def over_seeds(rows: list[dict]) -> list[dict]:
    """One record per row name, seeds merged (see `merge_seeds`): ppl_bound is the mean over
    the seeds, ppl_bound_sd their sample standard deviation."""
    return merge_seeds(rows, lambda r: r["name"], ("ppl_bound",))


def _ppl(r: dict) -> str:
    return f"{r['ppl_bound']:.3f}" + (f" +- {r['ppl_bound_sd']:.3f}" if "ppl_bound_sd" in r else "")


def markdown_table(rows: list[dict]) -> str:
    rows = over_seeds(_at_one_budget(rows))
    ar = {r["corpus"]: r["ppl_bound"] for r in rows if r["block_size"] == 1}
    lines = ["| corpus | tokenizer | model | block size | params | steps | tokens seen | "
             "seeds | test ppl (bound) | ratio to AR | paper text8 ratio | VMD objective ppl (not a bound) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        key = r["name"].removeprefix("bbc-")
        ratio = r["ppl_bound"] / ar[r["corpus"]] if r["corpus"] in ar else float("nan")
        paper = (f"{PAPER_TEXT8[key] / PAPER_TEXT8['ar']:.3f}" if key in PAPER_TEXT8
                 and r["corpus"] == "shakespeare" else "")
        se = r["nats_standard_error"]
        objective = f"{r['vmd_objective_ppl']:.3f}" if "vmd_objective_ppl" in r else ""
        name = r["name"].removeprefix("bbc-")
        lines.append(f"| {r['corpus']} | {r['tokenizer']} | {name} | {r['block_size']} | "
                     f"{r['num_parameters'] / 1e6:.2f}M | {r['steps']} | {r['tokens_seen']:,} | "
                     f"{r['seeds']} | {_ppl(r)} (+-{se:.3f} nats) | {ratio:.3f} | {paper} | "
                     f"{objective} |")
    return "\n".join(lines)


def run_text_benchmark(runs: Path, quick: bool = False, workers: int = 2,
                       only: list[str] | None = None, seeds=None) -> list[dict]:
    """Train (or read back) every row with every seed; returns one record per run. seeds: the
    seeds asked for (None: SEEDS, and the ONE_SEED rows at their first)."""
    asked, seeds = seeds is not None, list(seeds if seeds is not None else SEEDS)
    names = only or [*ROWS, *SCALED]
    unknown = sorted(set(names) - set(ROWS) - set(SCALED))
    if unknown:
        raise ValueError(f"unknown benchmark rows {unknown}; choose from {[*ROWS, *SCALED]}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct whole numbers >= 0, got {list(seeds)}")
    jobs = [(n, s) for s in seeds for n in names if _trains(n, s, quick, only, asked)]
    print(f"Training {len(jobs)} text runs ({len(names)} rows, seeds {seeds}; "
          f"{'quick' if quick else 'full'} budget, "
          f"{workers} workers); run folders under {runs}", flush=True)
    # Rows that only need re-evaluating load models in these threads; transformers' lazy
    # imports are not thread-safe, so resolve the one they use first.
    from transformers import AutoTokenizer  # noqa: F401
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: _run_row(*job, runs, quick), jobs))


def _trains(name: str, seed: int, quick: bool, only: list[str] | None,
            seeds_asked: bool = False) -> bool:
    """Whether a run trains (name, seed): every seed of an ordinary row; a ONE_SEED row at
    seed 0, or at the seeds asked for when --only names it; a smoke run leaves the scaled rows
    out (they would be the unscaled rows again) unless named."""
    named = bool(only) and name in only
    if quick and name in SCALED and not named:
        return False
    return name not in ONE_SEED or seed == SEEDS[0] or (named and seeds_asked)


def prompted_sample(runs: Path, row: str = SAMPLE_ROW, prompt: str = SAMPLE_PROMPT) -> dict | None:
    """Run the documented `maskdiff text generate` command on a row's seed-0 model and keep what
    it printed (None when that model is not there)."""
    folder = runs / row / "model"
    if not (folder / "config.json").is_file():
        return None
    argv = ["text", "generate", "--model", os.path.relpath(folder), "--prompt", prompt]
    proc = subprocess.run([sys.executable, "-m", "maskdiff", *argv], capture_output=True,
                          text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"the prompted sample failed (exit {proc.returncode}): {proc.stderr}")
    return {"row": row, "prompt": prompt, "command": "maskdiff " + shlex.join(argv),
            "output": proc.stdout.rstrip("\n"), "summary": proc.stderr.strip().splitlines()[-1]}


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help="a smoke run (few steps), not the results")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes")
    parser.add_argument("--runs", type=Path, default=Path("runs/text-bench"), help="run folders")
    parser.add_argument("--only", nargs="+", default=None,
                        help="run only these rows (by name): a part of the benchmark whose rows "
                             "replace the same rows and seeds in the data file")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help=f"training seeds of every row (default {' '.join(map(str, SEEDS))}; "
                             "the long rows and prior variants: the first, unless named by --only "
                             "with --seeds)")


def run(args) -> tuple[list[dict], dict]:
    rows = run_text_benchmark(args.runs, quick=args.quick, workers=args.workers, only=args.only,
                              seeds=args.seeds)
    meta = {"smoke": bool(args.quick), "prompted_sample": prompted_sample(args.runs)}
    partial = bool(args.only or (args.seeds is not None and list(args.seeds) != list(SEEDS)))
    data = getattr(args, "out", None) and Path(args.out) / "text.json"
    if partial and not args.quick:
        if not (data and data.is_file()):
            meta["smoke"] = True  # nothing to add the rows to: printed only
        else:
            rows, meta = merge_into(rows, meta, *read_results(data))
    return rows, meta


def _key(row: dict) -> tuple[str, int]:
    return row["name"], row.get("seed", 0)


def merge_into(rows: list[dict], meta: dict, old_rows: list[dict], old_meta: dict):
    """A run of some rows or seeds, added to the data file's rows: each (row, seed) it ran
    replaces the old one; the others stay, and the page says which run made which."""
    new = {_key(r) for r in rows}
    kept = [r for r in old_rows if _key(r) not in new]
    # Each run owns the rows it made; the data file's own run gets its command and date (the
    # harness writes them), and a run that owns no row any more is dropped.
    runs = list(old_meta.get("runs") or [{"rows": [list(_key(r)) for r in old_rows],
                                          "note": old_meta.get("note")}])
    runs[-1] = {**runs[-1], "command": old_meta.get("command"), "date": old_meta.get("date")}
    runs = [{**r, "rows": [k for k in r["rows"] if tuple(k) not in new]} for r in runs]
    runs = [r for r in runs if r["rows"]]
    described = lambda keys: ", ".join(f"{n} seed {s}" for n, s in sorted(map(tuple, keys)))  # noqa: E731
    note = f"This command ran {described(new)}"
    if runs:
        note += "; the other rows are from earlier runs: " + "; ".join(
            f"`{r['command']}` on {r['date']} ({described(r['rows'])})" for r in runs)
    note += "." + "".join(f" {r['note']}" for r in runs if r.get("note"))
    replaced = {name for name, _ in new}
    meta = {**meta, "runs": [*runs, {"rows": [list(k) for k in sorted(new)]}], "note": note,
            "row_notes": {n: t for n, t in (old_meta.get("row_notes") or {}).items()
                          if n not in replaced},
            "prompted_sample": meta.get("prompted_sample") or old_meta.get("prompted_sample")}
    order = {name: i for i, name in enumerate([*ROWS, *SCALED])}
    merged = sorted(kept + rows, key=lambda r: (order.get(r["name"], len(order)), r.get("seed", 0)))
    return merged, meta


def headline(rows: list[dict], meta: dict) -> str:
    """Shakespeare rows: the bound and its ratio to AR, beside the paper's text8 ratio."""
    rows = over_seeds(_at_one_budget(rows))
    ar = {r["corpus"]: r["ppl_bound"] for r in rows if r["block_size"] == 1}
    lines = ["| model (Shakespeare, char) | test perplexity (bound) | ratio to AR | paper text8 ratio |",
             "|---|---|---|---|"]
    for r in rows:
        if r["corpus"] != "shakespeare":
            continue
        paper = PAPER_TEXT8.get(r["name"])
        paper = "" if paper is None else f"{paper / PAPER_TEXT8['ar']:.3f}"
        ratio = r["ppl_bound"] / ar["shakespeare"]
        lines.append(f"| {r['name']} | {_ppl(r)} | {ratio:.3f} | {paper} |")
    return "\n".join(lines) + _sample_block(meta.get("prompted_sample"))


def _sample_block(sample: dict | None) -> str:
    if not sample:
        return ""
    return (f"\n\nA prompted sample ({sample['row']}, seed-0 model; {sample['summary']}):\n\n"
            f"```\n$ {sample['command']}\n{sample['output']}\n```")


def render(rows: list[dict], meta: dict) -> str:
    def budget(corpus):
        r = next((r for r in _at_one_budget(rows) if r["corpus"] == corpus), None) or next(
            r for r in rows if r["corpus"] == corpus)
        return f"{r['steps']:,} steps x {r['train_config']['batch_size']} sequences of {r['seq_len']}"
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    return "\n".join([
        "Every model has the same trunk per corpus and sees the same tokens ("
        + "; ".join(f"{c}: {budget(c)}" for c in corpora) + "); the rows differ only in block "
        "size and latent (the recipes: `tasks/text/benchmark.py`, one row as a file: "
        "`tasks/text/configs/shakespeare_block_vmd_b4.yaml`). EMA weights are scored on the test "
        "split. Diffusion rows are upper bounds on the perplexity; VMD rows report the valid "
        "marginal bound (importance samples of z), with the VMD training objective beside it, "
        "which is not a bound (see `docs/maths.md`). Per-row training times are in the data file.",
        "",
        markdown_table(rows),
        "",
        "The ratio to AR divides by the AR perplexity of the same corpus. The paper's ratios are "
        "from its text8 table (Zhang, Schwing, Zhao, arXiv 2510.23606): larger models and budgets, "
        "another corpus; they show the direction, not a target for these budgets.",
    ]) + budget_table(rows) + _comparisons(rows) + _row_notes(meta)


def _comparisons(rows: list[dict]) -> str:
    """Block-VMD against block diffusion of the same block size, computed from the rows."""
    by_name = {r["name"]: r for r in over_seeds(rows)}
    lines = []
    for b in (4, 8):
        bd = by_name.get(f"bd-b{b}")
        for name, vmd in by_name.items():
            if not (bd and name.startswith(f"block-vmd-b{b}")):
                continue
            prior = name.removeprefix(f"block-vmd-b{b}").removeprefix("-") or "standard"
            verdict = "beats" if vmd["ppl_bound"] < bd["ppl_bound"] else "does not beat"
            lines.append(f"- Block-VMD b={b} ({prior} prior) {verdict} block diffusion b={b} "
                         f"here: {_ppl(vmd)} against {_ppl(bd)} (valid bounds; mean +- standard "
                         f"deviation over {vmd['seeds']} and {bd['seeds']} seeds).")
    return (("\n\n### Reading the numbers\n\n" + "\n".join(lines)) if lines else "") + _bits_by_block(rows)


def _mean_by_block(rows: list[dict], name: str) -> dict | None:
    """A row's loss_by_block averaged over its seeds (None when no seed has it)."""
    runs = [r["loss_by_block"] for r in rows if r["name"] == name and "loss_by_block" in r]
    if not runs:
        return None
    return {part: [sum(run[part][k] for run in runs) / len(runs) for k in range(len(runs[0][part]))]
            for part in ("reconstruction", "kl")} | {"seeds": len(runs), "passes": runs[0]["passes"],
                                                     "sequences": runs[0]["sequences"]}


def _bits_by_block(rows: list[dict]) -> str:
    """Where the bits go: block diffusion's reconstruction per block against each Block-VMD's
    (every prior) reconstruction and KL, for each block size with both rows."""
    sections = []
    for b in (4, 8):
        bd = _mean_by_block(rows, f"bd-b{b}")
        names = [n for n in dict.fromkeys(r["name"] for r in rows) if n.startswith(f"block-vmd-b{b}")]
        for name in names:
            vmd = _mean_by_block(rows, name)
            if not (bd and vmd):
                continue
            prior = name.removeprefix(f"block-vmd-b{b}").removeprefix("-") or "standard"
            lines = [f"| block | block diffusion b={b} | Block-VMD reconstruction | Block-VMD KL | "
                     "Block-VMD total | Block-VMD - block diffusion |", "|---|---|---|---|---|---|"]
            for k, (r_bd, r_vmd, kl) in enumerate(zip(bd["reconstruction"], vmd["reconstruction"],
                                                      vmd["kl"])):
                lines.append(f"| {k} | {r_bd:.3f} | {r_vmd:.3f} | {kl:.3f} | {r_vmd + kl:.3f} | "
                             f"{r_vmd + kl - r_bd:+.3f} |")
            gain = fmean(bd["reconstruction"]) - fmean(vmd["reconstruction"])
            cost = fmean(vmd["kl"])
            sections.append(
                f"\n\n### Where the bits go, block by block (b={b}, {prior} prior)\n\n"
                f"Nats per token of each block on {vmd['sequences']} test sequences (the "
                f"objective's two parts, mean over {bd['seeds']} seeds of block diffusion and "
                f"{vmd['seeds']} of Block-VMD, {vmd['passes']} draws of t, masks and z each; the "
                "KL is weighted by w(t) as in the objective; for Block-VMD the sum is the VMD "
                "objective without free bits or KL warm-up, not the valid bound). Over all blocks "
                f"the latent changes the reconstruction by {-gain:+.3f} nats per token and its KL "
                f"costs {cost:.3f}: the objective ends {cost - gain:+.3f} nats per token against "
                "block diffusion.\n\n" + "\n".join(lines))
    return "".join(sections)


def _row_notes(meta: dict) -> str:
    """Notes the run recorded about single rows (meta["row_notes"]: name -> text)."""
    notes = meta.get("row_notes") or {}
    if not notes:
        return ""
    return "\n\n### Notes on single rows\n" + "".join(f"\n- **{name}**: {text}"
                                                      for name, text in notes.items())


BENCHMARK = Benchmark(name="text", title="Text results", add_arguments=add_arguments, run=run,
                      render=render, headline=headline,
                      description="Text: AR, MDM, block diffusion, VMD and Block-VMD trained at "
                                  "one budget per corpus")
