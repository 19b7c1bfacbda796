"""Decoding protocols on trained text models: what the adaptive schedule saves.

    python benchmarks/text_decoding.py --rows bd-b4 mdm     (models from the text benchmark's runs)

For each model and protocol, decodes a batch of unprompted samples within the same budget (one
token per call) and reports the mean calls used per sequence, tokens committed per call, wall
time and its share outside denoiser calls, and the mean log-probability the model gave its own
committed tokens (a cheap sign of how conservative the protocol is; not a quality measure: that
needs a judge model).

Calibration: 15% of the tokens of held-out test windows are masked at random and each block is
filled in one call (argmax), so every prediction sees the held-out context rather than the
model's own earlier guesses; each committed token's probability is set against whether it equals
the held-out token.
"""

from __future__ import annotations

from pathlib import Path

import torch

from maskdiff.calibration import expected_calibration_error, plot_reliability, reliability
from maskdiff.results import Benchmark, markdown_table
from maskdiff.sampling import SamplerConfig, generate

from .streams import pack, prepare_text
from .train import load_text_model

__all__ = ["PROTOCOLS", "BENCHMARK", "measure", "infilling_calibration"]

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


def infilling_calibration(model, sequences: torch.Tensor, share: float = 0.15,
                          seed: int = 0) -> dict:
    """Reliability of the tokens committed when `share` of each sequence (N, L) is masked at
    random and every block is filled in one call (argmax)."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    masked = torch.rand(sequences.shape, generator=g) < share
    x = sequences.masked_fill(masked, cfg.mask_id)
    blocks = int(masked.view(len(x), cfg.num_blocks, -1).any(-1).any(0).sum())
    out = generate(model, x, config=SamplerConfig(nfe=blocks, temperature=0.0), generator=g)
    right = out.tokens == sequences
    table = reliability(out.confidence, right)
    return {"sequences": int(sequences.shape[0]), "masked_share": share, "bins": table,
            "ece": expected_calibration_error(table), "accuracy": float(right[masked].float().mean())}


def add_arguments(parser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("runs/text-bench"),
                        help="the text benchmark's run folders (default: runs/text-bench)")
    parser.add_argument("--rows", nargs="+", default=["bd-b4", "mdm"],
                        help="benchmark rows whose trained models to decode (default: bd-b4 mdm)")
    parser.add_argument("--batch", type=int, default=64, help="sequences per protocol")
    parser.add_argument("--calibration-sequences", type=int, default=256,
                        help="held-out windows for the calibration of continuations (default 256)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> tuple[list[dict], dict]:
    rows, calibration = [], {}
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
        data = prepare_text(text["corpus"], str(folder / "tokenizer"))
        test = pack(data.streams["test"], model.config.seq_len, args.calibration_sequences)
        calibration[name] = infilling_calibration(model, test, seed=args.seed)
    return rows, {"batch": args.batch, "threads": torch.get_num_threads(),
                  "calibration": calibration}


def render(rows: list[dict], meta: dict) -> str:
    table = markdown_table(
        ["model", "protocol", "NFE budget", "mean NFE used", "tokens per call", "seconds",
         "outside denoiser", "mean log p of committed tokens"],
        [[f"{r['method']} ({r['corpus']})", r["protocol"], r["nfe_budget"], f"{r['nfe_used']:.2f}",
          f"{r['tokens_per_call']:.2f}", f"{r['seconds']:.2f}",
          f"{100 * r['outside_denoiser_share']:.1f}%", f"{r['mean_log_prob']:.3f}"] for r in rows])
    samples = "\n".join(f"- {r['method']}, {r['protocol']}: `{r['sample'][:120]}`" for r in rows)
    calibration = meta.get("calibration") or {}
    if calibration:
        cal = markdown_table(
            ["model", "held-out windows", "accuracy of filled tokens", "ECE", "committed at >= 0.9",
             "their accuracy"],
            [[name, c["sequences"], f"{100 * c['accuracy']:.1f}%", f"{c['ece']:.3f}",
              *_high_confidence(c["bins"])] for name, c in calibration.items()])
        samples += ("\n\n### Calibration of infilled tokens\n\n15% of the tokens of each held-out "
                    "window are masked at random and each block is filled in one call (argmax), so "
                    "predictions see the held-out context; each committed token's probability is set "
                    "against the held-out token."
                    "\n\n" + cal + "\n\n![reliability](../../benchmarks/results/"
                    "text_decoding_calibration.png)")
    return (f"Unprompted samples, {meta.get('batch', '?')} sequences per protocol, tokens drawn at "
            "temperature 1, top-prob order; the budget is one token per call and a sequence stops "
            "counting calls when it has no [MASK] left. `adaptive p` also commits every token at "
            "least p likely on top of the fixed count; `one per call` is Fast-dLLM's form (at "
            "least one token per call). Higher mean log-probability of the committed tokens means "
            "a more conservative protocol, not better text: sample quality needs a judge model."
            "\n\n" + table + "\n\nFirst sample of each:\n\n" + samples)


def _high_confidence(bins: list[dict]) -> list[str]:
    high = [b for b in bins if b["lo"] >= 0.9 and b["count"]]
    count, total = sum(b["count"] for b in high), sum(b["count"] for b in bins)
    acc = sum(b["accuracy"] * b["count"] for b in high) / count if count else None
    return [f"{100 * count / total:.1f}%", "-" if acc is None else f"{100 * acc:.1f}%"]


def figures(rows: list[dict], meta: dict, folder: Path) -> list[Path]:
    calibration = meta.get("calibration") or {}
    if not calibration:
        return []
    return [plot_reliability({name: c["bins"] for name, c in calibration.items()},
                             Path(folder) / "text_decoding_calibration.png",
                             title="Text infilling, committed tokens")]


BENCHMARK = Benchmark(name="text_decoding", title="Text: decoding protocols", add_arguments=add_arguments,
                      run=run, render=render, figures=figures,
                      description="Adaptive decoding on the text benchmark's trained models")

