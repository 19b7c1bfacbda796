"""Train and evaluate text models from one config file (JSON or YAML).

    corpus: shakespeare          # built-in name, local file/folder, or hub dataset
    tokenizer: char              # char | gpt2 | bpe:<vocab size> | saved tokenizer folder
    out_dir: runs/shakespeare-bd4
    model: {seq_len: 128, block_size: 4, d_model: 128, n_layers: 4, n_heads: 4, latent_dim: 0}
    train: {steps: 2000, batch_size: 32, lr: 1e-3, ema_decay: 0.999, checkpoint_every: 200}
    eval:  {passes: 4, max_sequences: 256, num_latents: 16, samples: 3}

`run_text_training` trains through the engine's trainer (any number of processes under
`accelerate launch`), then writes `out_dir/model/` (weights, config, tokenizer and the training
record) and `out_dir/results.json` (the test-set perplexity bound). The model's vocabulary size
comes from the tokenizer.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from maskdiff.evaluation import perplexity_bound
from maskdiff.models import MaskedDiffusionModel, ModelConfig, load_model, save_model
from maskdiff.models.io import read_config
from maskdiff.sampling import SamplerConfig, generate
from maskdiff.schedules import get_schedule
from maskdiff.training import TrainConfig, hardware_description, train

from .text import RandomWindows, pack, prepare_text

__all__ = ["EvalSettings", "TextRunConfig", "load_run_config", "run_text_training",
           "evaluate_text_model", "load_text_model", "TOKENIZER_DIR"]

TOKENIZER_DIR = "tokenizer"


@dataclass
class EvalSettings:
    """passes: seeded passes over the test sequences (the standard error comes from them);
    max_sequences: cap on test sequences (None: all); num_latents: z samples per token for VMD
    bounds; samples: sequences generated and printed at the end; sample_nfe: their denoiser
    calls (None: one token per step); during training, `val_sequences` validation sequences are
    scored every train.eval_every steps."""

    passes: int = 4
    max_sequences: int | None = 256
    batch_size: int = 32
    num_latents: int = 16
    samples: int = 3
    sample_nfe: int | None = None
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
class TextRunConfig:
    corpus: str = "shakespeare"
    tokenizer: str = "char"
    out_dir: str | None = None
    model: dict = field(default_factory=lambda: {"seq_len": 128})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def model_config(self, vocab_size: int) -> ModelConfig:
        given = dict(self.model)
        if "vocab_size" in given and given["vocab_size"] != vocab_size:
            raise ValueError(f"model.vocab_size={given['vocab_size']} does not match the "
                             f"tokenizer {self.tokenizer!r} ({vocab_size} ids); leave it out")
        given["vocab_size"] = vocab_size
        if "seq_len" not in given:
            raise ValueError("model.seq_len is required (the training sequence length)")
        return ModelConfig.from_dict(given)


def _section(cls, values, name: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ValueError(f"config section {name!r} must be a mapping, got {type(values).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {name} settings {unknown}; known: {sorted(known)}")
    return cls(**values)


def load_run_config(path: str | Path, overrides: dict | None = None) -> TextRunConfig:
    """Read a JSON or YAML run config; `overrides` ({"train.steps": 10, ...}) are applied on top."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            raw = json.loads(text)
    except Exception as err:
        raise ValueError(f"cannot parse config file {path}: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a mapping at the top level")
    for key, value in (overrides or {}).items():
        section, _, name = key.rpartition(".")
        target = raw.setdefault(section, {}) if section else raw
        target[name] = value
    top = {f.name for f in fields(TextRunConfig)}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ValueError(f"unknown config keys {unknown} in {path}; known: {sorted(top)}")
    model = raw.get("model") or {}
    if not isinstance(model, dict):
        raise ValueError("config section 'model' must be a mapping")
    return TextRunConfig(corpus=raw.get("corpus", "shakespeare"),
                         tokenizer=raw.get("tokenizer", "char"), out_dir=raw.get("out_dir"),
                         model=model, train=_section(TrainConfig, raw.get("train"), "train"),
                         eval=_section(EvalSettings, raw.get("eval"), "eval"))


def _method_name(cfg: ModelConfig) -> str:
    if cfg.block_size == 1:
        return "ar"
    kind = "vmd" if cfg.is_vmd else "mdm"
    if cfg.block_size == cfg.seq_len:
        return kind
    return ("block-vmd" if cfg.is_vmd else "bd") + f"-b{cfg.block_size}"


def run_text_training(config: TextRunConfig, out_dir: str | Path | None = None,
                      resume: bool = True, progress: bool = True) -> dict:
    """Train, evaluate on the test split, save; returns the result record."""
    from accelerate import PartialState

    out = Path(out_dir or config.out_dir or "")
    if not str(out) or str(out) == ".":
        raise ValueError("no output folder: give out_dir in the config or --out")
    state = PartialState(cpu=not torch.cuda.is_available())  # the same state train() makes
    data = prepare_text(config.corpus, config.tokenizer)
    model_cfg = config.model_config(data.vocab_size)
    L = model_cfg.seq_len
    train_source = RandomWindows(data.streams["train"], L)
    val = pack(data.streams["validation"], L, config.eval.val_sequences)
    schedule = get_schedule(config.train.schedule)
    torch.manual_seed(config.train.seed)
    model = MaskedDiffusionModel(model_cfg)

    def evaluate(m):
        b = perplexity_bound(m, val, schedule, passes=1, batch_size=config.eval.batch_size,
                             num_latents=min(4, config.eval.num_latents), seed=config.eval.seed)
        return {"val_nats": b.nats_per_token}

    result = train(model, train_source, config.train, out_dir=out, resume=resume,
                   description=f"{_method_name(model_cfg)} {config.corpus}",
                   evaluate=evaluate)
    record = {"method": _method_name(model_cfg), "block_size": model_cfg.block_size,
              "corpus": config.corpus, "tokenizer": config.tokenizer, "seq_len": L,
              "vocab_size": data.vocab_size, "num_parameters": result.model.num_parameters(),
              "steps": result.steps, "samples_seen": result.samples_seen,
              "tokens_seen": result.samples_seen * L, "train_seconds": round(result.seconds, 1),
              "num_processes": result.num_processes, "hardware": hardware_description(),
              "train_config": asdict(config.train),
              "train_tokens": int(len(data.streams["train"]))}
    if not state.is_main_process:
        return record
    model_dir = out / "model"
    save_model(result.model, model_dir, extra={"text": {"corpus": config.corpus,
                                                        "tokenizer": config.tokenizer},
                                               "training": record})
    data.tokenizer.save_pretrained(str(model_dir / TOKENIZER_DIR))
    record.update(evaluate_text_model(result.model, data, config.eval, progress=progress))
    (out / "results.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def evaluate_text_model(model: MaskedDiffusionModel, data, settings: EvalSettings,
                        split: str = "test", seq_len: int | None = None,
                        progress: bool = False) -> dict:
    """Perplexity bound on `split` and a few generated samples (KV-cached block decoding)."""
    cfg = model.config
    L = seq_len or cfg.seq_len
    if L != cfg.seq_len:
        relation = "above the model's maximum" if L > cfg.seq_len else "not the model's length"
        raise ValueError(f"sequence length {L} is {relation} {cfg.seq_len} (models are evaluated "
                         "at their training length)")
    sequences = pack(data.streams[split], L, settings.max_sequences)
    schedule = get_schedule("linear")
    t0 = time.perf_counter()
    bound = perplexity_bound(model, sequences, schedule, passes=settings.passes,
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
                       config=SamplerConfig(nfe=settings.sample_nfe, method="ancestral",
                                            temperature=1.0))
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
    schedule = get_schedule("linear")
    total = 0.0
    for i in range(0, sequences.shape[0], settings.batch_size):
        x0 = sequences[i:i + settings.batch_size]
        nats, _ = importance_weighted_bound(model, x0, schedule, num_latents=settings.num_latents,
                                            num_times=settings.passes, generator=g)
        total += nats * x0.numel()
    nats = total / sequences.numel()
    return {"vmd_objective_nats": nats, "vmd_objective_ppl": math.exp(nats)}


def load_text_model(model_dir: str | Path):
    """(model, tokenizer, text record) of a model saved by `run_text_training`."""
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
