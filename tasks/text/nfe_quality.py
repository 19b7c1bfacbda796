"""Generation quality against denoiser calls, on the text benchmark's trained models.

    python benchmarks/text.py --only ar-16x          # the corpus' judge (the largest AR budget)
    python benchmarks/text_quality.py     # MDM, block diffusion b=4 / b=8, Block-VMD b=4 (two priors)

For each model, decoding and budget, unprompted samples are scored by the judge: generative
perplexity (exp of the judge's mean NLL per token of the samples) and the entropy of each sample's
token distribution (repetitive text can reach a low perplexity; it cannot reach a high entropy).
Held-out real windows are scored the same way, as the reference both numbers should approach.
Budgets run from one token per call (NFE = L) down to one call per block, halving.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch

from maskdiff.results import Benchmark, markdown_table
from maskdiff.sampling import SamplerConfig, generate

from .benchmark import JUDGES
from .quality import generative_perplexity, token_entropy
from .streams import pack, prepare_text
from .train import load_text_model

__all__ = ["DECODINGS", "BENCHMARK", "budgets", "score_samples"]

SURE = 0.9  # the adaptive decoding's threshold; every row reports its share of tokens this likely
# name -> SamplerConfig options; tokens are drawn at temperature 1 in every decoding (float64
# noise), so the decodings differ only in which positions each call commits.
DECODINGS = {
    "ancestral": dict(method="ancestral", temperature=1.0),
    "top-prob-margin": dict(method="confidence", order="top-prob-margin", temperature=1.0),
    f"adaptive {SURE}": dict(method="confidence", order="top-prob-margin", temperature=1.0,
                              threshold=SURE),
}
DEFAULT_ROWS = ("mdm", "bd-b4", "bd-b8", "block-vmd-b4", "block-vmd-b4-mixture")
GROUPS = 4  # the samples are scored in this many equal groups: their spread is the sampling noise


def budgets(seq_len: int, block_size: int, fewest_total: int = 4) -> list[int]:
    """NFE budgets from one token per call down to one call per block, halving (and not below
    `fewest_total` calls for a one-block model)."""
    blocks = seq_len // block_size
    fewest = blocks if blocks > 1 else min(fewest_total, seq_len)
    out, nfe = [], seq_len
    while nfe >= fewest:
        out.append(nfe)
        if nfe % 2:
            break
        nfe //= 2
    return out if out[-1] == fewest else [*out, fewest]


def score_samples(judge, samples: torch.Tensor, vocab_size: int, groups: int = GROUPS) -> dict:
    """Generative perplexity and token entropy of `samples` (N, L), over all of them, with the
    standard error of the generative perplexity from `groups` equal groups (their standard
    deviation / sqrt(groups): the sampling noise of the number over all samples)."""
    if groups < 2 or len(samples) % groups:
        raise ValueError(f"{len(samples)} samples do not split into {groups} >= 2 equal groups")
    per_group = [generative_perplexity(judge, chunk) for chunk in samples.chunk(groups)]
    return {"gen_ppl": math.exp(statistics.fmean(math.log(p) for p in per_group)),
            "gen_ppl_se": statistics.stdev(per_group) / math.sqrt(groups),
            "entropy": token_entropy(samples, vocab_size)}


def _judge(args, corpus: str, tokenizer_record):
    """The corpus' judge (loaded once per corpus); it must be an AR model of the same corpus and
    tokenizer as the models it scores."""
    if args.judge is None and corpus not in JUDGES:
        raise ValueError(f"no judge row for the corpus {corpus!r} (judges: {JUDGES}); name an "
                         "autoregressive model of that corpus with --judge DIR")
    folder = Path(args.judge or args.runs / JUDGES[corpus] / "model")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no judge for {corpus} at {folder}: train it with `python "
                                f"benchmarks/text.py --only {JUDGES.get(corpus, 'ROW')}` or name "
                                "an autoregressive model with --judge DIR")
    judge, _, text = load_text_model(folder)
    if (text["corpus"], text["tokenizer"]) != (corpus, tokenizer_record):
        raise ValueError(f"the judge at {folder} was trained on {text['corpus']} with the "
                         f"{text['tokenizer']} tokenizer; the models it would score use {corpus} "
                         f"with {tokenizer_record}")
    return judge.eval(), str(folder)


def add_arguments(parser) -> None:
    parser.add_argument("--runs", type=Path, default=Path("runs/text-bench"),
                        help="the text benchmark's run folders (default: runs/text-bench)")
    parser.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS),
                        help=f"rows whose seed-0 models to decode (default: {' '.join(DEFAULT_ROWS)})")
    parser.add_argument("--judge", type=Path, default=None,
                        help="an autoregressive model folder to score with (default: the corpus' "
                             "judge row of the text benchmark)")
    parser.add_argument("--samples", type=int, default=128, help="sequences per decoding and budget")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> tuple[list[dict], dict]:
    if args.samples < GROUPS or args.samples % GROUPS:
        raise ValueError(f"--samples must be a positive multiple of {GROUPS}, got {args.samples}")
    rows, references, judges = [], {}, {}
    for name in args.rows:
        folder = args.runs / name / "model"
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no trained model for row {name!r} at {folder}; train it with "
                                    f"`python benchmarks/text.py --only {name}`")
        model, tokenizer, text = load_text_model(folder)
        corpus, cfg = text["corpus"], model.config
        if corpus not in judges:
            judges[corpus] = _judge(args, corpus, text["tokenizer"])
            data = prepare_text(corpus, str(folder / "tokenizer"))
            real = pack(data.streams["test"], cfg.seq_len, args.samples)
            references[corpus] = {**score_samples(judges[corpus][0], real, cfg.vocab_size),
                                  "judge": judges[corpus][1], "windows": len(real)}
        judge = judges[corpus][0]
        if judge.config.seq_len != cfg.seq_len or judge.config.vocab_size != cfg.vocab_size:
            raise ValueError(f"the judge ({judges[corpus][1]}) reads sequences of "
                             f"{judge.config.seq_len} tokens over {judge.config.vocab_size}; "
                             f"{name} writes {cfg.seq_len} over {cfg.vocab_size}")
        for decoding, options in DECODINGS.items():
            for nfe in budgets(cfg.seq_len, cfg.block_size):
                g = torch.Generator().manual_seed(args.seed)
                t0 = time.perf_counter()
                out = generate(model, batch_size=args.samples, generator=g,
                               config=SamplerConfig(nfe=nfe, **options))
                seconds = time.perf_counter() - t0
                r = {"row": name, "method": cfg.method_name, "corpus": corpus,
                     "block_size": cfg.block_size, "decoding": decoding, "nfe": nfe,
                     "nfe_used": float(out.nfe_per_sequence.float().mean()),
                     # what a threshold could have committed early: tokens at least SURE likely
                     "sure_share": float((out.confidence >= SURE).float().mean()),
                     "seconds": round(seconds, 2),
                     **score_samples(judge, out.tokens, cfg.vocab_size),
                     "sample": tokenizer.decode(out.tokens[0].tolist()).replace("\n", " | ")}
                rows.append(r)
                print(f"{name:13s} {decoding:16s} NFE {nfe:3d}: gen ppl {r['gen_ppl']:8.2f}, "
                      f"entropy {r['entropy']:.3f}", flush=True)
    return rows, {"samples": args.samples, "groups": GROUPS, "seed": args.seed,
                  "reference": references, "threads": torch.get_num_threads()}


def render(rows: list[dict], meta: dict) -> str:
    ref_lines = markdown_table(
        ["corpus", "judge", "held-out windows", "judge perplexity", "token entropy"],
        [[c, f"`{r['judge']}`", r["windows"], f"{r['gen_ppl']:.2f} +- {r['gen_ppl_se']:.2f}",
          f"{r['entropy']:.3f}"] for c, r in (meta.get("reference") or {}).items()])
    table = markdown_table(
        ["model", "decoding", "NFE", "mean NFE used", f"tokens >= {SURE} likely",
         "generative ppl", "token entropy", "seconds"],
        [[f"{r['row']} ({r['corpus']})", r["decoding"], r["nfe"], f"{r['nfe_used']:.1f}",
          f"{r['sure_share']:.1%}",
          f"{r['gen_ppl']:.2f} +- {r['gen_ppl_se']:.2f}", f"{r['entropy']:.3f}",
          f"{r['seconds']:.2f}"] for r in rows])
    samples = "\n".join(f"- {r['row']}, {r['decoding']}, NFE {r['nfe']}: `{r['sample'][:100]}`"
                        for r in rows if r["nfe"] == max(x["nfe"] for x in rows if x["row"] == r["row"])
                        or r["nfe"] == min(x["nfe"] for x in rows if x["row"] == r["row"]))
    n, groups = meta.get("samples", "?"), meta.get("groups", GROUPS)
    return (f"Unprompted samples ({n} sequences per model, decoding and budget, seed "
            f"{meta.get('seed', 0)}; the seed-0 model of each text benchmark row), scored by the "
            "corpus' judge: the text benchmark's autoregressive model at its largest budget, whose "
            "likelihood is exact. Generative perplexity is exp of the judge's mean NLL per token "
            f"(+- its standard error from {groups} groups of the samples: sampling noise); "
            "token entropy is the entropy of each sample's own token frequencies (nats), averaged. "
            "Lower perplexity at an entropy near the real text's is better; a low perplexity with "
            "a low entropy is repetitive text. Every decoding draws tokens at temperature 1 (noise "
            f"in float64); `adaptive {SURE}` also commits every token at least {SURE} likely, within "
            "the budget; the column of tokens that likely (at the call that committed them) says "
            "how much room such a threshold had.\n\nHeld-out real text, scored the same way (what "
            "samples should approach):\n\n" + ref_lines + "\n\n![generation quality against NFE]"
            "(../../benchmarks/results/text_quality.png)\n\n" + table
            + "\n\nFirst sample at the largest and smallest budget:\n\n" + samples)


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    decodings = list(dict.fromkeys(r["decoding"] for r in rows))
    fig, axes = plt.subplots(2, len(decodings), figsize=(4 * len(decodings), 6.5), sharex=True,
                             squeeze=False)
    reference = next(iter((meta.get("reference") or {}).values()), None)
    for j, decoding in enumerate(decodings):
        for name in dict.fromkeys(r["row"] for r in rows):
            pts = sorted((r["nfe"], r) for r in rows if r["row"] == name and r["decoding"] == decoding)
            x = [nfe for nfe, _ in pts]
            axes[0][j].errorbar(x, [r["gen_ppl"] for _, r in pts], [r["gen_ppl_se"] for _, r in pts],
                                marker="o", capsize=2, label=name)
            axes[1][j].plot(x, [r["entropy"] for _, r in pts], marker="o", label=name)
        for i, key in enumerate(("gen_ppl", "entropy")):
            if reference:
                axes[i][j].axhline(reference[key], color="grey", linestyle=":", label="real text")
            axes[i][j].set_xscale("log", base=2)
            axes[i][j].grid(alpha=0.3)
        axes[0][j].set_title(decoding)
        axes[1][j].set_xlabel("NFE (denoiser calls per sequence)")
    for ax in axes[0]:  # real text near 4, short budgets in the hundreds
        ax.set_yscale("log")
    axes[0][0].set_ylabel("generative perplexity (judge, log scale)")
    axes[1][0].set_ylabel("token entropy (nats)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figures(rows: list[dict], meta: dict, folder: Path) -> list[Path]:
    if not rows:
        return []
    path = Path(folder) / "text_quality.png"
    plot(rows, meta, path)
    return [path]


BENCHMARK = Benchmark(name="text_quality", title="Text: generation quality against NFE",
                      add_arguments=add_arguments, run=run, render=render, figures=figures,
                      description="Generative perplexity and entropy of samples against denoiser "
                                  "calls, on the text benchmark's models")
