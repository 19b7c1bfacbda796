"""Decoding protocols on trained text models: what the adaptive schedule saves.

    python benchmarks/text_decoding.py --rows bd-b4 mdm     (models from the text benchmark's runs)

For each model and protocol, decodes a batch of unprompted samples within the same budget (one
token per call) and reports the mean calls used per sequence, tokens committed per call, wall
time and its share outside denoiser calls, and the mean log-probability the model gave its own
committed tokens (a cheap sign of how conservative the protocol is; not a quality measure: that
needs a judge model).
"""

from __future__ import annotations

from pathlib import Path

import torch

from maskdiff.results import Benchmark, markdown_table
from maskdiff.sampling import SamplerConfig, generate

from .train import load_text_model

__all__ = ["PROTOCOLS", "BENCHMARK", "measure"]

# name -> SamplerConfig options on top of a one-token-per-call budget, tokens sampled at T = 1.
PROTOCOLS = {
    "fixed (confidence)": dict(method="confidence", order="top-prob"),
    **{f"adaptive {p}": dict(method="confidence", order="top-prob", threshold=p)
       for p in (0.9, 0.5, 0.3)},
    "adaptive 0.5, one per call": dict(method="confidence", order="top-prob", threshold=0.5,
                                       min_per_call="one"),
}


def measure(model, protocol: dict, batch: int, seed: int) -> dict:
    """One protocol on one model: cost and the confidence of what it committed."""
    config = SamplerConfig(nfe=None, temperature=1.0, **protocol)
    out = generate(model, batch_size=batch, config=config,
                   generator=torch.Generator().manual_seed(seed))
    return {"nfe_budget": model.config.seq_len, "nfe_used": float(out.nfe_per_sequence.float().mean()),
            "tokens_per_call": out.tokens_per_call, "seconds": round(out.seconds, 3),
            "outside_denoiser_share": round(1 - out.denoiser_seconds / out.seconds, 4),
            "mean_log_prob": float(out.confidence.log().mean()),
            "sample": out.tokens[0].tolist()}


def add_arguments(parser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("runs/text-bench"),
                        help="the text benchmark's run folders (default: runs/text-bench)")
    parser.add_argument("--rows", nargs="+", default=["bd-b4", "mdm"],
                        help="benchmark rows whose trained models to decode (default: bd-b4 mdm)")
    parser.add_argument("--batch", type=int, default=64, help="sequences per protocol")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> tuple[list[dict], dict]:
    rows = []
    for name in args.rows:
        folder = args.runs / name / "model"
        if not folder.is_dir():
            raise FileNotFoundError(f"no trained model for row {name!r} at {folder}; train it with "
                                    f"`python benchmarks/text.py --only {name}`")
        model, tokenizer, text = load_text_model(folder)
        for protocol, options in PROTOCOLS.items():
            r = measure(model, options, args.batch, args.seed)
            r["sample"] = tokenizer.decode(r["sample"]).replace("\n", " | ")
            rows.append({"row": name, "method": model.config.method_name, "corpus": text["corpus"],
                         "protocol": protocol, **r})
            print(f"{name:8s} {protocol:28s} {r['nfe_used']:6.2f} calls, "
                  f"{r['tokens_per_call']:.2f} tokens/call", flush=True)
    return rows, {"batch": args.batch, "threads": torch.get_num_threads()}


def render(rows: list[dict], meta: dict) -> str:
    table = markdown_table(
        ["model", "protocol", "NFE budget", "mean NFE used", "tokens per call", "seconds",
         "outside denoiser", "mean log p of committed tokens"],
        [[f"{r['method']} ({r['corpus']})", r["protocol"], r["nfe_budget"], f"{r['nfe_used']:.2f}",
          f"{r['tokens_per_call']:.2f}", f"{r['seconds']:.2f}",
          f"{100 * r['outside_denoiser_share']:.1f}%", f"{r['mean_log_prob']:.3f}"] for r in rows])
    samples = "\n".join(f"- {r['method']}, {r['protocol']}: `{r['sample'][:120]}`" for r in rows)
    return (f"Unprompted samples, {meta.get('batch', '?')} sequences per protocol, tokens drawn at "
            "temperature 1, top-prob order; the budget is one token per call and a sequence stops "
            "counting calls when it has no [MASK] left. `adaptive p` also commits every token at "
            "least p likely on top of the fixed count; `one per call` is Fast-dLLM's form (at "
            "least one token per call). Higher mean log-probability of the committed tokens means "
            "a more conservative protocol, not better text: sample quality needs a judge model."
            "\n\n" + table + "\n\nFirst sample of each:\n\n" + samples)


BENCHMARK = Benchmark(name="text_decoding", title="Text: decoding protocols", add_arguments=add_arguments,
                      run=run, render=render,
                      description="Adaptive decoding on the text benchmark's trained models")

