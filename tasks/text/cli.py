"""`maskdiff text ...`: prepare corpora, evaluate a trained model, run the text benchmark.

    maskdiff text prepare [--corpus shakespeare bbc-news] [--tokenizer char gpt2]
    maskdiff text eval --model DIR [--corpus NAME_OR_PATH] [--split test] [--passes N] [--samples N]
    maskdiff text generate --model DIR --prompt TEXT [--max-new-tokens N] [--nfe N]
    maskdiff text bench [--quick] [--workers N] [--out DIR]

Training goes through the generic `maskdiff train --config FILE` (a recipe with `task: text`).
"""

from __future__ import annotations

from pathlib import Path

from maskdiff.commandline import add_sampler_arguments, require_positive

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    from maskdiff.results import add_benchmark_command

    from .benchmark import BENCHMARK
    from .train import EvalSettings

    text = subparsers.add_parser("text", help="text corpora, evaluation and the text benchmark")
    sub = text.add_subparsers(dest="action", required=True)
    pr = sub.add_parser("prepare", help="fetch corpora and tokenizers, tokenize, print sizes")
    pr.add_argument("--corpus", nargs="+", default=["shakespeare", "bbc-news"])
    pr.add_argument("--tokenizer", nargs="+", default=["char", "gpt2"])
    pr.set_defaults(handler=_prepare)

    defaults = EvalSettings()
    ev = sub.add_parser("eval", help="perplexity bound and samples of a trained text model")
    ev.add_argument("--model", type=Path, required=True, help="the model/ folder of a run")
    ev.add_argument("--corpus", default=None,
                    help="score on this corpus instead of the training one: a built-in name, a "
                         "local file or folder, or a hub dataset (tokenized with the model's "
                         "own tokenizer)")
    ev.add_argument("--split", choices=("validation", "test"), default="test")
    ev.add_argument("--passes", type=int, default=defaults.passes,
                    help="seeded passes (standard error over them; default %(default)s)")
    ev.add_argument("--max-sequences", type=int, default=defaults.max_sequences)
    ev.add_argument("--num-latents", type=int, default=defaults.num_latents,
                    help="z samples for VMD bounds (default %(default)s)")
    ev.add_argument("--samples", type=int, default=defaults.samples,
                    help="sequences to generate and print (default %(default)s)")
    add_sampler_arguments(ev, "nfe", "method", "temperature", base_name="the model's recipe")
    ev.add_argument("--seq-len", type=int, default=None, help="evaluation length (the model's by default)")
    ev.add_argument("--seed", type=int, default=defaults.seed)
    ev.set_defaults(handler=_eval)

    ge = sub.add_parser("generate", help="continue a prompt with a trained text model",
                        description="The prompt is conditioning (never changed); block models "
                                    "print each block as it is decoded and stop at an end-of-text "
                                    "token or after --max-new-tokens.")
    ge.add_argument("--model", type=Path, required=True, help="the model/ folder of a run")
    ge.add_argument("--prompt", required=True, help="text to continue")
    ge.add_argument("--max-new-tokens", type=int, default=None,
                    help="tokens to decode at most (default: the rest of the model's context)")
    add_sampler_arguments(ge, "nfe", "method", "order", "temperature", "z_policy",
                          base_name="the model's recipe")
    ge.add_argument("--seed", type=int, default=0)
    ge.set_defaults(handler=_generate)

    add_benchmark_command(sub.add_parser("bench", help="AR, MDM, block diffusion, VMD and Block-VMD "
                                         "at one budget", description=BENCHMARK.description), BENCHMARK)


def _prepare(args) -> int:
    from .streams import prepare_text

    for corpus in args.corpus:
        for tok in args.tokenizer:
            data = prepare_text(corpus, tok)
            sizes = ", ".join(f"{s} {len(v):,}" for s, v in data.streams.items())
            print(f"{corpus} / {tok}: vocabulary {data.vocab_size:,}; tokens: {sizes}")
    return 0


def _eval(args) -> int:
    from maskdiff.commandline import sampler_from_args
    from maskdiff.recipe import saved_sampler

    from .streams import prepare_text
    from .train import DEFAULT_SAMPLER, EvalSettings, evaluate_text_model, load_text_model

    require_positive(nfe=args.nfe)
    model, _, text = load_text_model(args.model)
    corpus = args.corpus or text["corpus"]
    data = prepare_text(corpus, str(args.model / "tokenizer"))
    settings = EvalSettings(passes=args.passes, max_sequences=args.max_sequences,
                            num_latents=args.num_latents, samples=args.samples, seed=args.seed)
    sampler = sampler_from_args(args, saved_sampler(args.model) or DEFAULT_SAMPLER)
    r = evaluate_text_model(model, data, settings, split=args.split, seq_len=args.seq_len,
                            progress=True, sampler=sampler)
    print(f"{corpus} {args.split} perplexity <= {r['ppl_bound']:.3f} ({r['nats_per_token']:.4f} +- "
          f"{r['nats_standard_error']:.4f} nats/token over {r['eval_passes']} passes, "
          f"{r['eval_tokens']:,} tokens; {r['bound_kind']})")
    for s in r["samples"]:
        print("sample:", s.replace("\n", " | "))
    return 0


def _generate(args) -> int:
    import sys

    from maskdiff.commandline import sampler_from_args
    from maskdiff.recipe import saved_sampler

    from .generation import encode_prompt, generate_text
    from .train import DEFAULT_SAMPLER, load_text_model

    require_positive(nfe=args.nfe, max_new_tokens=args.max_new_tokens)
    model, tokenizer, _ = load_text_model(args.model)
    sampler = sampler_from_args(args, saved_sampler(args.model) or DEFAULT_SAMPLER)
    encode_prompt(tokenizer, args.prompt, model.config.seq_len)  # refuse a bad prompt up front
    print(args.prompt, end="", flush=True)
    out = generate_text(model, tokenizer, args.prompt, max_new_tokens=args.max_new_tokens,
                        config=sampler, seed=args.seed,
                        on_text=lambda piece: print(piece, end="", flush=True))
    print(flush=True)
    room = model.config.seq_len - (len(out.tokens) - out.new_tokens)
    stop = "an end-of-text token" if out.ended else (
        "--max-new-tokens" if args.max_new_tokens and args.max_new_tokens <= room
        else f"the end of the model's context ({model.config.seq_len} tokens)")
    print(f"{out.new_tokens} tokens in {out.nfe} denoiser calls, {out.seconds:.1f}s; stopped at "
          f"{stop}", file=sys.stderr)
    return 0


def read_recipe(raw: dict, source: str):
    """The task's hook for `maskdiff train --config`: a text recipe from its file form."""
    from .train import text_recipe

    return text_recipe(raw, source)


def train_from_recipe(recipe, out_dir, resume: bool = True) -> int:
    """The task's hook for `maskdiff train --config`: train, evaluate, print the summary."""
    from .train import run_recipe as run

    record = run(recipe, out_dir, resume=resume)
    if "ppl_bound" in record:
        print(f"{record['method']} on {record['corpus']} ({record['tokenizer']}): "
              f"{record['steps']} steps, {record['tokens_seen']:,} tokens, "
              f"{record['train_seconds']:.0f}s on {record['num_processes']} process(es)")
        print(f"test perplexity <= {record['ppl_bound']:.3f} ({record['nats_per_token']:.4f} +- "
              f"{record['nats_standard_error']:.4f} nats/token, {record['bound_kind']})")
        for s in record["samples"]:
            print("sample:", s[:200].replace("\n", " | "))
    return 0


def latent_batch(recipe: dict, count: int, seed: int):
    """The task's hook for `maskdiff latent`: `count` validation windows of the recipe's corpus
    and tokenizer, every position decoded (no conditioning)."""
    from maskdiff.recipe import config_section

    from .streams import pack, prepare_text
    from .train import TextDataSettings

    settings = config_section(TextDataSettings, recipe["data"], "data")
    data = prepare_text(settings.corpus, settings.tokenizer)
    return pack(data.streams["validation"], recipe["model"]["seq_len"], count), None
