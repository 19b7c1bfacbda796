"""The training loop: one code path (accelerate) from a laptop CPU to many GPUs.

Data comes from a `BatchSource` (anything with `sample(batch_size, generator) -> Batch`), so tasks
plug in without the engine knowing them. Checkpoints hold the model, optimiser, learning-rate
scheduler, step and random state; they are written to a temporary folder and renamed, so a run
killed at any moment resumes from its last complete checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch
from tqdm.auto import tqdm

from .models import MaskedDiffusionModel, load_model, save_model
from .objectives import diffusion_loss, kl_weight
from .schedules import get_schedule

__all__ = ["Batch", "BatchSource", "TrainConfig", "TrainResult", "train"]


@dataclass
class Batch:
    """x0: (B, L) clean ids; maskable: (B, L) bool or None (False = conditioning, never masked)."""

    x0: torch.Tensor
    maskable: torch.Tensor | None = None


class BatchSource(Protocol):
    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...


@dataclass
class TrainConfig:
    """Optimisation recipe. Every field is validated; errors name the field."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    schedule: str = "linear"
    antithetic: bool = True
    t_min: float = 1e-4
    t_max: float = 1.0  # with t_min, a training focus on some mask ratios (no longer the ELBO)
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    seed: int = 0
    checkpoint_every: int = 0
    eval_every: int = 0
    log_every: int = 50
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "kl_warmup_steps", "checkpoint_every", "eval_every",
                     "log_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig.min_lr_ratio must lie in [0, 1], got {self.min_lr_ratio}")
        if not 0 <= self.t_min < self.t_max <= 1:
            raise ValueError("TrainConfig needs 0 <= t_min < t_max <= 1, got "
                             f"t_min={self.t_min}, t_max={self.t_max}")
        if self.grad_clip < 0 or self.free_bits < 0 or self.weight_decay < 0:
            raise ValueError("TrainConfig.grad_clip, free_bits and weight_decay must be >= 0")
        get_schedule(self.schedule)


@dataclass
class TrainResult:
    model: MaskedDiffusionModel
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    samples_seen: int = 0


def _lr_lambda(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine
    return factor


CHECKPOINT_DIR = "checkpoint"
STATE_NAME = "trainer_state.pt"


def _save_checkpoint(out_dir: Path, model, optimizer, scheduler, generator, step, history,
                     running, elapsed, config) -> None:
    final, tmp = out_dir / CHECKPOINT_DIR, out_dir / (CHECKPOINT_DIR + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, extra={"train_config": asdict(config), "step": step})
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "step": step, "history": history,
                "running": running, "elapsed": elapsed}, tmp / STATE_NAME)
    old = out_dir / (CHECKPOINT_DIR + ".old")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def _load_checkpoint(out_dir: Path):
    ckpt = out_dir / CHECKPOINT_DIR
    if not (ckpt / STATE_NAME).is_file():
        old = out_dir / (CHECKPOINT_DIR + ".old")  # killed between the two renames
        ckpt = old if (old / STATE_NAME).is_file() else None
    if ckpt is None:
        return None, None
    try:
        state = torch.load(ckpt / STATE_NAME, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"cannot read checkpoint {ckpt / STATE_NAME}: {err}") from err
    return load_model(ckpt), state


def train(model: MaskedDiffusionModel, data: BatchSource, config: TrainConfig | None = None,
          out_dir: str | os.PathLike | None = None, resume: bool = True,
          description: str = "train",
          evaluate: Callable[[MaskedDiffusionModel], dict] | None = None) -> TrainResult:
    """Train `model` on batches from `data`. With `out_dir`, checkpoints go to out_dir/checkpoint
    and an existing checkpoint there is resumed (same loss curve as an uninterrupted run).
    `evaluate(model) -> dict` runs every `config.eval_every` steps (model in eval mode, no grad);
    its numbers join the history under "eval"."""
    from accelerate import Accelerator  # imported here: a second-long import the CLI often skips

    config = config or TrainConfig()
    out_path = Path(out_dir) if out_dir is not None else None
    schedule = get_schedule(config.schedule)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    if accelerator.num_processes > 1:
        # The loss calls model methods directly, which bypasses DDP's gradient hooks.
        raise NotImplementedError("multi-process training is not supported by this trainer yet; "
                                  "run one process")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed + accelerator.process_index)

    start_step, history, elapsed, running = 0, [], 0.0, None
    resumed_state = None
    if out_path is not None and resume:
        loaded, resumed_state = _load_checkpoint(out_path)
        if loaded is not None:
            if loaded.config != model.config:
                raise ValueError(f"checkpoint in {out_path} was trained with a different model config")
            model.load_state_dict(loaded.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    if resumed_state is not None:
        optimizer.load_state_dict(resumed_state["optimizer"])
        scheduler.load_state_dict(resumed_state["scheduler"])
        generator.set_state(resumed_state["generator"])
        start_step, history = resumed_state["step"], resumed_state["history"]
        elapsed, running = resumed_state["elapsed"], resumed_state["running"]
    model, optimizer = accelerator.prepare(model, optimizer)
    raw_model = accelerator.unwrap_model(model)
    model.train()

    bar = tqdm(total=config.steps, initial=start_step, desc=description,
               disable=not config.progress or not accelerator.is_main_process, leave=False)
    t0 = time.perf_counter()
    for step in range(start_step, config.steps):
        batch = data.sample(config.batch_size, generator)
        x0 = batch.x0.to(accelerator.device)
        maskable = None if batch.maskable is None else batch.maskable.to(accelerator.device)
        beta = kl_weight(step, config.kl_warmup_steps)
        out = diffusion_loss(raw_model, x0, schedule,
                             maskable=maskable, beta=beta, free_bits=config.free_bits,
                             generator=generator, antithetic=config.antithetic,
                             t_min=config.t_min, t_max=config.t_max)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(out.loss)
        if config.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        stats = {"loss": float(out.loss.detach()), "nll": float(out.nll), "kl": float(out.kl),
                 "bound": float(out.bound)}
        running = stats if running is None else {k: 0.95 * running[k] + 0.05 * v
                                                 for k, v in stats.items()}
        if config.log_every and (step + 1) % config.log_every == 0:
            history.append({"step": step + 1, "beta": beta, "lr": scheduler.get_last_lr()[0],
                            **{k: round(v, 5) for k, v in running.items()}})
            bar.set_postfix(bound=f"{running['bound']:.4f}", kl=f"{running['kl']:.3f}")
        bar.update(1)
        if evaluate is not None and config.eval_every and (step + 1) % config.eval_every == 0:
            raw_model.eval()
            with torch.no_grad():
                metrics = evaluate(raw_model)
            raw_model.train()
            history.append({"step": step + 1, "eval": metrics})
            bar.write(f"step {step + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        if (out_path is not None and config.checkpoint_every
                and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps
                and accelerator.is_main_process):
            _save_checkpoint(out_path, raw_model, optimizer, scheduler, generator, step + 1,
                             history, running, elapsed + time.perf_counter() - t0, config)
    bar.close()
    elapsed += time.perf_counter() - t0
    if out_path is not None and accelerator.is_main_process:
        _save_checkpoint(out_path, raw_model, optimizer, scheduler, generator, config.steps,
                         history, running, elapsed, config)
        (out_path / "history.json").write_text(json.dumps(history, indent=1))
    raw_model.eval()
    return TrainResult(raw_model, history, elapsed, config.steps,
                       config.steps * config.batch_size)
