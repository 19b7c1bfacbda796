"""Train and evaluate text models from one recipe file (JSON or YAML).

    task: text
    out_dir: runs/shakespeare-bd4
    model: {seq_len: 128, block_size: 4, d_model: 128, n_layers: 4, n_heads: 4, latent_dim: 0}
    train: {steps: 2000, batch_size: 32, lr: 1e-3, ema_decay: 0.999, checkpoint_every: 200}
    sampler: {method: ancestral, temperature: 1.0}    # how the end-of-run samples are drawn
    data:  {corpus: shakespeare, tokenizer: char}     # corpus: built-in, file/folder or hub name
    eval:  {passes: 4, max_sequences: 256, num_latents: 16, samples: 3}

`run_recipe` trains through the engine's trainer (any number of processes under
`accelerate launch`), then writes `out_dir/model/` (weights, config, tokenizer and the training
record) and `out_dir/results.json` (the test-set perplexity bound). The model's vocabulary size
comes from the tokenizer.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from maskdiff.evaluation import perplexity_bound
from maskdiff.hardware import hardware_description
from maskdiff.models import MaskedDiffusionModel, load_model, save_model
from maskdiff.models.io import read_config
from maskdiff.recipe import Recipe, config_section, read_recipe_file
from maskdiff.sampling import SamplerConfig, generate
from maskdiff.training import train

from .streams import RandomWindows, pack, prepare_text

__all__ = ["EvalSettings", "TextDataSettings", "text_recipe", "load_text_recipe", "run_recipe",
           "evaluate_text_model", "load_text_model", "TOKENIZER_DIR",
           "DEFAULT_SAMPLER"]

TOKENIZER_DIR = "tokenizer"


@dataclass
class EvalSettings:
    """passes: seeded passes over the test sequences (the standard error comes from them);
    max_sequences: cap on test sequences (None: all); num_latents: z samples per token for VMD
    bounds; samples: sequences generated (with the recipe's sampler) and printed at the end;
    during training, `val_sequences` validation sequences are scored every train.eval_every
    steps."""

    passes: int = 4
    max_sequences: int | None = 256
    batch_size: int = 32
    num_latents: int = 16
    samples: int = 3
    val_sequences: int = 32
    seed: int = 0

    def __post_init__(self):
        for name in ("passes", "batch_size", "num_latents", "val_sequences"):
            if getattr(self, name) < 1:
                raise ValueError(f"eval.{name} must be >= 1, got {getattr(self, name)}")
        if self.samples < 0:
            raise ValueError(f"eval.samples must be >= 0, got {self.samples}")
        if self.max_sequences is not None and self.max_sequences < 1:
            raise ValueError(f"eval.max_sequences must be >= 1 or null, got {self.max_sequences}")


@dataclass
class TextDataSettings:
    """The recipe's `data` section: corpus (built-in name, local file/folder or hub dataset)
    and tokenizer (char | gpt2 | bpe:<vocab size> | a saved tokenizer folder)."""

    corpus: str = "shakespeare"
    tokenizer: str = "char"


# Samples at the end of a run: the reverse process itself, at temperature 1.
DEFAULT_SAMPLER = SamplerConfig(method="ancestral", temperature=1.0)


def text_recipe(raw: dict, source: str = "recipe") -> Recipe:
    """A text recipe from its file form. The model's vocabulary size comes from the tokenizer
    (read only once every other section is valid); a given one must match it."""
    def vocabulary(data: dict) -> dict:
        settings = config_section(TextDataSettings, data, "data")
        return {"vocab_size": prepare_text(settings.corpus, settings.tokenizer).vocab_size}

    recipe = Recipe.from_dict(raw, vocabulary, source=source)
    if recipe.task != "text":
        raise ValueError(f"{source} is a {recipe.task!r} recipe, not a text one")
    config_section(EvalSettings, recipe.eval, "eval", source)
    return recipe


def load_text_recipe(path: str | Path, overrides: dict | None = None) -> Recipe:
    """Read a text recipe file (YAML or JSON); `overrides` ({"train.steps": 10}) on top."""
    raw = read_recipe_file(path, overrides)
    raw.setdefault("task", "text")
    return text_recipe(raw, source=str(path))


def run_recipe(recipe: Recipe, out_dir: str | Path | None = None, resume: bool = True,
               progress: bool = True) -> dict:
    """Train a text recipe, evaluate on the test split, save; returns the result record."""
    from accelerate import PartialState

    out = Path(out_dir or recipe.out_dir or "")
    if not str(out) or str(out) == ".":
        raise ValueError("no output folder: give out_dir in the config or --out")
    settings = config_section(TextDataSettings, recipe.data, "data")
    evals = config_section(EvalSettings, recipe.eval, "eval")
    # the model carries how its samples are drawn: the recipe's sampler, else the text default
    recipe = replace(recipe, sampler=recipe.sampler or DEFAULT_SAMPLER)
    state = PartialState(cpu=not torch.cuda.is_available())  # the same state train() makes
    data = prepare_text(settings.corpus, settings.tokenizer)
    model_cfg = recipe.model
    if model_cfg.vocab_size != data.vocab_size:
        raise ValueError(f"model.vocab_size={model_cfg.vocab_size} does not match the tokenizer "
                         f"{settings.tokenizer!r} ({data.vocab_size} ids); leave it out")
    L = model_cfg.seq_len
    train_source = RandomWindows(data.streams["train"], L)
    val = pack(data.streams["validation"], L, evals.val_sequences)
    torch.manual_seed(recipe.train.seed)
    model = MaskedDiffusionModel(model_cfg)

    def evaluate(m):
        b = perplexity_bound(m, val, passes=1, batch_size=evals.batch_size,
                             num_latents=min(4, evals.num_latents), seed=evals.seed)
        return {"val_nats": b.nats_per_token}

    result = train(model, train_source, recipe.train, out_dir=out, resume=resume,
                   description=f"{model_cfg.method_name} {settings.corpus}",
                   evaluate=evaluate, identity=asdict(settings))
    record = {"method": model_cfg.method_name, "block_size": model_cfg.block_size,
              "corpus": settings.corpus, "tokenizer": settings.tokenizer, "seq_len": L,
              "vocab_size": data.vocab_size, "num_parameters": result.model.num_parameters(),
              "steps": result.steps, "samples_seen": result.samples_seen,
              "tokens_seen": result.samples_seen * L, "train_seconds": round(result.seconds, 1),
              "num_processes": result.num_processes, "hardware": hardware_description(),
              "train_config": asdict(recipe.train),
              "train_tokens": int(len(data.streams["train"]))}
    if not state.is_main_process:
        return record
    model_dir = out / "model"
    save_model(result.model, model_dir, extra={"text": asdict(settings), "training": record,
                                               "recipe": recipe.to_dict()})
    data.tokenizer.save_pretrained(str(model_dir / TOKENIZER_DIR))
    record.update(evaluate_text_model(result.model, data, evals, sampler=recipe.sampler,
                                      progress=progress))
    (out / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def evaluate_text_model(model: MaskedDiffusionModel, data, settings: EvalSettings,
                        split: str = "test", seq_len: int | None = None,
                        progress: bool = False, sampler: SamplerConfig | None = None) -> dict:
    """Perplexity bound on `split` (under the model's own noise schedule) and a few samples
    decoded with `sampler` (default: ancestral at temperature 1; KV-cached block decoding)."""
    cfg = model.config
    L = seq_len or cfg.seq_len
    if L != cfg.seq_len:
        relation = "above the model's maximum" if L > cfg.seq_len else "not the model's length"
        raise ValueError(f"sequence length {L} is {relation} {cfg.seq_len} (models are evaluated "
                         "at their training length)")
    sequences = pack(data.streams[split], L, settings.max_sequences)
    t0 = time.perf_counter()
    bound = perplexity_bound(model, sequences, passes=settings.passes,
                             batch_size=settings.batch_size, num_latents=settings.num_latents,
                             seed=settings.seed, progress=progress)
    eval_seconds = time.perf_counter() - t0
    extra = {}
    if cfg.is_vmd:
        extra = vmd_objective(model, sequences, settings)
    samples = []
    if settings.samples:
        g = torch.Generator().manual_seed(settings.seed)
        out = generate(model, batch_size=settings.samples, generator=g,
                       config=sampler or DEFAULT_SAMPLER)
        samples = [data.decode(row) for row in out.tokens]
    return {"split": split, "ppl_bound": bound.perplexity, "nats_per_token": bound.nats_per_token,
            "nats_standard_error": bound.standard_error, "bound_kind": bound.kind,
            "eval_tokens": bound.num_tokens, "eval_passes": bound.passes,
            "eval_seconds": round(eval_seconds, 1), "bits_per_token": bound.nats_per_token / math.log(2),
            **extra, "samples": samples}


def vmd_objective(model: MaskedDiffusionModel, sequences: torch.Tensor,
                  settings: EvalSettings) -> dict:
    """The VMD double-ELBO objective (tightened with K latent samples) on `sequences`: the number
    VMD papers report, NOT a bound on the likelihood (see maskdiff.objectives), kept beside the
    valid bound so the two can be compared."""
    from maskdiff.evaluation import importance_weighted_bound

    g = torch.Generator().manual_seed(settings.seed)
    total = 0.0
    for i in range(0, sequences.shape[0], settings.batch_size):
        x0 = sequences[i:i + settings.batch_size]
        nats, _ = importance_weighted_bound(model, x0, None, num_latents=settings.num_latents,
                                            num_times=settings.passes, generator=g)
        total += nats * x0.numel()
    nats = total / sequences.numel()
    return {"vmd_objective_nats": nats, "vmd_objective_ppl": math.exp(nats)}


def loss_by_block(model: MaskedDiffusionModel, sequences: torch.Tensor,
                  settings: EvalSettings) -> dict:
    """Where a block model's bits go: the objective's reconstruction and KL per block position
    (nats per token of the block, mean over `sequences` and `settings.passes` seeded draws of t,
    masks and z). For Block-VMD their sum is the training objective, not the valid bound."""
    from maskdiff.objectives import loss_per_block

    g = torch.Generator().manual_seed(settings.seed)
    recon = kl = 0
    count = 0
    for _ in range(settings.passes):
        for i in range(0, sequences.shape[0], settings.batch_size):
            parts = loss_per_block(model, sequences[i:i + settings.batch_size], generator=g)
            recon, kl = recon + parts.reconstruction, kl + parts.kl
            count += parts.sequences
    return {"reconstruction": (recon / count).tolist(), "kl": (kl / count).tolist()}


def load_text_model(model_dir: str | Path):
    """(model, tokenizer, text record) of a model saved by `run_recipe`."""
    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    _, extra = read_config(model_dir)
    if "text" not in extra:
        raise ValueError(f"{model_dir} is not a text model (its config has no 'text' record)")
    model = load_model(model_dir)
    tok_dir = model_dir / TOKENIZER_DIR
    if not tok_dir.is_dir():
        raise FileNotFoundError(f"{model_dir} has no {TOKENIZER_DIR}/ folder")
    return model, AutoTokenizer.from_pretrained(str(tok_dir)), extra["text"]
