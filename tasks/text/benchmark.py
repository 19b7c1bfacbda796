"""The text benchmark: AR, MDM, block diffusion, VMD and Block-VMD trained at one budget.

Every row is one `maskdiff train --config` run in its own process (a pool of `workers`), in its
own run folder, so an interrupted benchmark resumes: finished rows are read back from their
results.json, unfinished ones resume from their last checkpoint. Results go to
`text.json` (one row per model) and `text.md` (with the ratio to the AR perplexity of the same
corpus, beside the VMD paper's text8 ratios).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["ROWS", "BUDGETS", "run_text_benchmark", "markdown_table", "row_config"]

# The shared architecture and budget; rows differ only in block size and latent.
BASE_MODEL = {"seq_len": 64, "d_model": 96, "n_layers": 4, "n_heads": 4}
BUDGETS = {
    "char": {"steps": 1500, "batch_size": 32},
    "bpe": {"steps": 600, "batch_size": 32},
}
EVAL = {"passes": 4, "max_sequences": 256, "num_latents": 16, "samples": 2}
# With 50k-token logits every latent sample costs a full softmax: a smaller evaluation.
BUDGET_EVAL = {"char": {}, "bpe": {"passes": 2, "max_sequences": 128, "num_latents": 8}}
TRAIN = {"lr": 1e-3, "min_lr_ratio": 0.1, "warmup_steps": 100, "ema_decay": 0.999,
         "checkpoint_every": 100, "eval_every": 500, "log_every": 25, "mixed_precision": "no"}
VMD = {"latent_dim": 8}
# Free bits: without them the latent collapsed (KL ~1e-5 nats/token by the end, VMD = MDM).
VMD_TRAIN = {"kl_warmup_steps": 300, "free_bits": 0.1}

# name -> (corpus, tokenizer, budget, model overrides)
ROWS = {
    "ar": ("shakespeare", "char", "char", {"block_size": 1}),
    "mdm": ("shakespeare", "char", "char", {}),
    "bd-b4": ("shakespeare", "char", "char", {"block_size": 4}),
    "bd-b8": ("shakespeare", "char", "char", {"block_size": 8}),
    "vmd": ("shakespeare", "char", "char", VMD),
    "block-vmd-b4": ("shakespeare", "char", "char", {"block_size": 4, **VMD}),
    "block-vmd-b8": ("shakespeare", "char", "char", {"block_size": 8, **VMD}),
    "bbc-ar": ("bbc-news", "gpt2", "bpe", {"block_size": 1}),
    "bbc-block-vmd-b4": ("bbc-news", "gpt2", "bpe", {"block_size": 4, **VMD}),
}

# The VMD paper's text8 table (test perplexity; diffusion rows are bounds) and ratios to AR.
PAPER_TEXT8 = {"ar": 2.603, "mdm": 3.498, "bd-b4": 2.873, "bd-b8": 3.126,
               "block-vmd-b4": 2.858, "block-vmd-b8": 3.125}


def row_config(name: str, quick: bool = False) -> dict:
    corpus, tokenizer, budget, model = ROWS[name]
    train = {**TRAIN, **BUDGETS[budget]}
    if model.get("latent_dim"):
        train.update(VMD_TRAIN)
    evals = {**EVAL, **BUDGET_EVAL[budget]}
    if quick:
        train.update(steps=6, checkpoint_every=3, eval_every=0, warmup_steps=2,
                     kl_warmup_steps=0, log_every=2)
        evals.update(passes=2, max_sequences=8, num_latents=2, samples=1)
    return {"corpus": corpus, "tokenizer": tokenizer, "model": {**BASE_MODEL, **model},
            "train": train, "eval": evals}


def _run_row(name: str, runs: Path, quick: bool) -> dict:
    folder = runs / name
    results = folder / "results.json"
    config = row_config(name, quick)
    if results.is_file():
        record = json.loads(results.read_text())
        if record.get("bench_config") == config:
            return record
        if _same_training(record.get("bench_config"), config):
            return _reevaluate(folder, record, config)  # only the evaluation changed
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
    record.update(name=name, bench_config=config,
                  wall_seconds_this_call=round(time.perf_counter() - t0, 1))
    results.write_text(json.dumps(record, indent=1) + "\n")
    print(f"  {name}: perplexity <= {record['ppl_bound']:.3f} "
          f"({record['train_seconds']:.0f}s training)", flush=True)
    return record


def _same_training(old: dict | None, new: dict) -> bool:
    strip = lambda c: {k: v for k, v in c.items() if k != "eval"}  # noqa: E731
    return old is not None and strip(old) == strip(new)


def _reevaluate(folder: Path, record: dict, config: dict) -> dict:
    from .text import prepare_text
    from .text_train import EvalSettings, evaluate_text_model, load_text_model

    model, _, text = load_text_model(folder / "model")
    data = prepare_text(text["corpus"], text["tokenizer"])
    record.update(evaluate_text_model(model, data, EvalSettings(**config["eval"])))
    record["bench_config"] = config
    (folder / "run_config.json").write_text(json.dumps(config, indent=1))
    (folder / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"  {record['name']}: re-evaluated, perplexity <= {record['ppl_bound']:.3f}", flush=True)
    return record


def markdown_table(rows: list[dict]) -> str:
    ar = {r["corpus"]: r["ppl_bound"] for r in rows if r["block_size"] == 1}
    lines = ["| corpus | tokenizer | model | block size | params | steps | tokens seen | "
             "test ppl (bound) | ratio to AR | paper text8 ratio | VMD objective ppl (not a bound) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        key = r["name"].removeprefix("bbc-")
        ratio = r["ppl_bound"] / ar[r["corpus"]] if r["corpus"] in ar else float("nan")
        paper = (f"{PAPER_TEXT8[key] / PAPER_TEXT8['ar']:.3f}" if key in PAPER_TEXT8
                 and r["corpus"] == "shakespeare" else "")
        se = r["nats_standard_error"]
        objective = f"{r['vmd_objective_ppl']:.3f}" if "vmd_objective_ppl" in r else ""
        lines.append(f"| {r['corpus']} | {r['tokenizer']} | {r['method']} | {r['block_size']} | "
                     f"{r['num_parameters'] / 1e6:.2f}M | {r['steps']} | {r['tokens_seen']:,} | "
                     f"{r['ppl_bound']:.3f} (+-{se:.3f} nats) | {ratio:.3f} | {paper} | "
                     f"{objective} |")
    return "\n".join(lines)


def run_text_benchmark(out: Path, runs: Path, quick: bool = False, workers: int = 2,
                       only: list[str] | None = None) -> list[dict]:
    names = only or list(ROWS)
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
        raise ValueError(f"unknown benchmark rows {unknown}; choose from {list(ROWS)}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    print(f"Training {len(names)} text models ({'quick' if quick else 'full'} budget, "
          f"{workers} workers); run folders under {runs}", flush=True)
    t0 = time.perf_counter()
    # Rows that only need re-evaluating load models in these threads; transformers' lazy
    # imports are not thread-safe, so resolve the one they use first.
    from transformers import AutoTokenizer  # noqa: F401
    with ThreadPoolExecutor(workers) as pool:
        rows = list(pool.map(lambda n: _run_row(n, runs, quick), names))
    table = markdown_table(rows)
    print(table)
    print(f"Total wall time: {time.perf_counter() - t0:.0f}s")
    if not quick and only is None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "text.json").write_text(json.dumps(rows, indent=1) + "\n")
        (out / "text.md").write_text(table + "\n")
        print(f"Wrote {out / 'text.json'} and {out / 'text.md'}")
    return rows
