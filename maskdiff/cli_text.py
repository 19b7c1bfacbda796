"""Text commands of the `maskdiff` CLI.

    maskdiff train --config FILE [--out DIR] [--set train.steps=100 ...] [--no-resume]
    accelerate launch -m maskdiff train --config FILE          (many processes, same code path)
    maskdiff text prepare [--corpus shakespeare bbc-news] [--tokenizer char gpt2]
    maskdiff text eval --model DIR [--split test] [--passes N] [--samples N] [--seq-len N]
    maskdiff text bench [--quick] [--workers N] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["add_text_commands", "run_text_command"]


def add_text_commands(sub) -> None:
    tr = sub.add_parser("train", help="train a text model from a config file (JSON or YAML)",
                        description="Trains through accelerate: run it plainly for one process, "
                                    "or under `accelerate launch -m maskdiff train ...` for many. "
                                    "A run folder with a checkpoint is resumed.")
    tr.add_argument("--config", type=Path, required=True, help="run config (see tasks/text_train.py)")
    tr.add_argument("--out", type=Path, default=None, help="run folder (default: out_dir of the config)")
    tr.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override config values, e.g. train.steps=100 model.block_size=4")
    tr.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")

    text = sub.add_parser("text", help="text corpora, evaluation and the text benchmark")
    text_sub = text.add_subparsers(dest="action", required=True)
    pr = text_sub.add_parser("prepare", help="fetch corpora and tokenizers, tokenize, print sizes")
    pr.add_argument("--corpus", nargs="+", default=["shakespeare", "bbc-news"])
    pr.add_argument("--tokenizer", nargs="+", default=["char", "gpt2"])

    ev = text_sub.add_parser("eval", help="perplexity bound and samples of a trained text model")
    ev.add_argument("--model", type=Path, required=True, help="the model/ folder of a run")
    ev.add_argument("--split", choices=("validation", "test"), default="test")
    ev.add_argument("--passes", type=int, default=4, help="seeded passes (standard error over them)")
    ev.add_argument("--max-sequences", type=int, default=256)
    ev.add_argument("--num-latents", type=int, default=16, help="z samples for VMD bounds")
    ev.add_argument("--samples", type=int, default=3, help="sequences to generate and print")
    ev.add_argument("--nfe", type=int, default=None, help="denoiser calls per sample (default: one per token)")
    ev.add_argument("--seq-len", type=int, default=None, help="evaluation length (the model's by default)")
    ev.add_argument("--seed", type=int, default=0)

    be = text_sub.add_parser("bench", help="AR, MDM, block diffusion, VMD and Block-VMD at one budget")
    be.add_argument("--quick", action="store_true", help="a smoke run (few steps), not the results")
    be.add_argument("--workers", type=int, default=2, help="parallel training processes")
    be.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    be.add_argument("--runs", type=Path, default=Path("runs/text-bench"), help="run folders")
    be.add_argument("--only", nargs="+", default=None, help="run only these rows (by name)")


def _parse_overrides(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def _train(args) -> int:
    import torch

    from .cli import require_positive
    from .tasks.text_train import load_run_config, run_text_training

    require_positive(threads=args.threads)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = load_run_config(args.config, _parse_overrides(args.set))
    record = run_text_training(config, args.out, resume=not args.no_resume)
    if "ppl_bound" in record:
        print(f"{record['method']} on {record['corpus']} ({record['tokenizer']}): "
              f"{record['steps']} steps, {record['tokens_seen']:,} tokens, "
              f"{record['train_seconds']:.0f}s on {record['num_processes']} process(es)")
        print(f"test perplexity <= {record['ppl_bound']:.3f} ({record['nats_per_token']:.4f} +- "
              f"{record['nats_standard_error']:.4f} nats/token, {record['bound_kind']})")
        for s in record["samples"]:
            print("sample:", s[:200].replace("\n", " | "))
    return 0


def _prepare(args) -> int:
    from .tasks.text import prepare_text

    for corpus in args.corpus:
        for tok in args.tokenizer:
            data = prepare_text(corpus, tok)
            sizes = ", ".join(f"{s} {len(v):,}" for s, v in data.streams.items())
            print(f"{corpus} / {tok}: vocabulary {data.vocab_size:,}; tokens: {sizes}")
    return 0


def _eval(args) -> int:
    from .tasks.text import prepare_text
    from .tasks.text_train import EvalSettings, evaluate_text_model, load_text_model

    model, _, text = load_text_model(args.model)
    data = prepare_text(text["corpus"], str(args.model / "tokenizer"))
    settings = EvalSettings(passes=args.passes, max_sequences=args.max_sequences,
                            num_latents=args.num_latents, samples=args.samples,
                            sample_nfe=args.nfe, seed=args.seed)
    r = evaluate_text_model(model, data, settings, split=args.split, seq_len=args.seq_len,
                            progress=True)
    print(f"{args.split} perplexity <= {r['ppl_bound']:.3f} ({r['nats_per_token']:.4f} +- "
          f"{r['nats_standard_error']:.4f} nats/token over {r['eval_passes']} passes, "
          f"{r['eval_tokens']:,} tokens; {r['bound_kind']})")
    for s in r["samples"]:
        print("sample:", s.replace("\n", " | "))
    return 0


def _bench(args) -> int:
    from .tasks.text_benchmark import run_text_benchmark

    run_text_benchmark(args.out, args.runs, quick=args.quick, workers=args.workers, only=args.only)
    return 0


def run_text_command(args) -> int:
    if args.command == "train":
        return _train(args)
    return {"prepare": _prepare, "eval": _eval, "bench": _bench}[args.action](args)
