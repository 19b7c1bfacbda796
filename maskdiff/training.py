"""The training loop: one code path (accelerate) from a laptop CPU to many GPUs.

Data comes from a `BatchSource` (anything with `sample(batch_size, generator) -> Batch`), so tasks
plug in without the engine knowing them. `TrainConfig.batch_size` is the global batch: every
process draws the same batch and the same noise from one seeded generator and trains on its own
slice of rows (split further into `grad_accum_steps` micro-batches), so a run on N processes sees
exactly the data and noise of a one-process run with the same global batch. The loss is computed
inside the module accelerate wraps (`DiffusionObjective`), so DDP's gradient hooks see it.

Checkpoints hold the model, optimiser, learning-rate scheduler, EMA weights, step and random
state; they are written to a temporary folder and renamed, so a run killed at any moment resumes
from its last complete checkpoint and follows the loss curve of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from .models import MaskedDiffusionModel, load_model, save_model
from .objectives import TrainingNoise, diffusion_loss, draw_training_noise, kl_weight
from .schedules import get_schedule

__all__ = ["Batch", "BatchSource", "TrainConfig", "TrainResult", "DiffusionObjective", "train",
           "hardware_description", "METRICS_NAME", "MIXED_PRECISION"]

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")


@dataclass
class Batch:
    """x0: (B, L) clean ids; maskable: (B, L) bool or None (False = conditioning, never masked)."""

    x0: torch.Tensor
    maskable: torch.Tensor | None = None


class BatchSource(Protocol):
    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...


@dataclass
class TrainConfig:
    """Optimisation recipe. Every field is validated; errors name the field.

    batch_size is the global batch (all processes, all accumulation micro-batches together).
    mixed_precision: "auto" is bf16 on a GPU that supports it and full precision elsewhere.
    ema_decay: 0 disables the exponential moving average of the weights; with it, evaluation and
    the returned model use the EMA weights. log_with: accelerate tracker names (e.g. "tensorboard")
    or "all" for every installed one."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    grad_accum_steps: int = 1
    mixed_precision: str = "auto"
    ema_decay: float = 0.0
    antithetic: bool = True
    t_min: float = 1e-4
    t_max: float = 1.0  # with t_min, a training focus on some mask ratios (no longer the ELBO)
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    seed: int = 0
    checkpoint_every: int = 0
    eval_every: int = 0
    log_every: int = 50
    log_with: str | list[str] | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "grad_accum_steps"):
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
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"TrainConfig.ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"TrainConfig.mixed_precision must be one of {MIXED_PRECISION}, "
                             f"got {self.mixed_precision!r}")
        if self.batch_size % self.grad_accum_steps:
            raise ValueError(f"TrainConfig.batch_size={self.batch_size} must be divisible by "
                             f"grad_accum_steps={self.grad_accum_steps}")


@dataclass
class TrainResult:
    model: MaskedDiffusionModel
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    samples_seen: int = 0
    num_processes: int = 1


def hardware_description() -> str:
    """A one-line description of the machine a run trained on, for training records."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU {cpu}, {os.cpu_count()} cores, {threads} torch thread{'s' * (threads > 1)}"


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
METRICS_NAME = "metrics.jsonl"


class DiffusionObjective(nn.Module):
    """The model plus its loss, as one module: what accelerate prepares (and DDP wraps), so the
    loss's forward pass runs through the wrapper's hooks (mixed precision, gradient sync). The
    loss uses the model's own noise schedule."""

    def __init__(self, model: MaskedDiffusionModel, free_bits: float):
        super().__init__()
        self.model, self.free_bits = model, free_bits
        self.schedule = get_schedule(model.config.schedule)

    def forward(self, x0: torch.Tensor, maskable: torch.Tensor | None, noise: TrainingNoise,
                beta: float):
        out = diffusion_loss(self.model, x0, self.schedule, maskable=maskable, beta=beta,
                             free_bits=self.free_bits, noise=noise)
        return out.loss, out.nll, out.kl, out.bound


def _resolve_precision(requested: str) -> str:
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


def _allow_new_precision(precision: str) -> None:
    """accelerate keeps one process-wide state; a later run in the same single process may ask
    for another precision, so that state is reset (never under a distributed launch)."""
    from accelerate.state import AcceleratorState, PartialState

    if not AcceleratorState._shared_state or PartialState().num_processes > 1:
        return
    if AcceleratorState().mixed_precision != precision:
        AcceleratorState._reset_state()


def _save_checkpoint(out_dir: Path, model, state: dict, config: TrainConfig) -> None:
    final, tmp = out_dir / CHECKPOINT_DIR, out_dir / (CHECKPOINT_DIR + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, extra={"train_config": asdict(config), "step": state["step"],
                                  "num_processes": state["num_processes"]})
    torch.save(state, tmp / STATE_NAME)
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
        raise ValueError(f"cannot read checkpoint {ckpt / STATE_NAME}: {err}; the file is "
                         f"truncated or corrupted (delete {ckpt} to start over)") from err
    return load_model(ckpt), state


class _MetricsLog:
    """Append-only JSONL log (one object per line). On resume, rows past the checkpoint's step
    (written before a kill) are dropped, so the file matches an uninterrupted run."""

    def __init__(self, path: Path | None, resume_step: int, enabled: bool):
        self.path = path if enabled else None
        if self.path is None:
            return
        rows = []
        if resume_step > 0 and self.path.is_file():
            for line in self.path.read_text().splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    row = json.loads(line)
                    if row.get("step", 0) <= resume_step:
                        rows.append(line)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(r + "\n" for r in rows))

    def write(self, row: dict) -> None:
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")


def _update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    # Warm-up of the decay so early EMA weights are not dominated by the random initialisation.
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()], 1 - d)


def train(model: MaskedDiffusionModel, data: BatchSource, config: TrainConfig | None = None,
          out_dir: str | os.PathLike | None = None, resume: bool = True,
          description: str = "train",
          evaluate: Callable[[MaskedDiffusionModel], dict] | None = None) -> TrainResult:
    """Train `model` on batches from `data`. With `out_dir`, checkpoints go to out_dir/checkpoint,
    metrics to out_dir/metrics.jsonl, and an existing checkpoint there is resumed (same loss curve
    as an uninterrupted run). `evaluate(model) -> dict` runs every `config.eval_every` steps on
    the main process (EMA weights when enabled, eval mode, no grad); its numbers join the history
    under "eval". Runs under `accelerate launch` shard each global batch over the processes."""
    from accelerate import Accelerator  # imported here: a second-long import the CLI often skips
    from accelerate.utils import DistributedDataParallelKwargs

    config = config or TrainConfig()
    out_path = Path(out_dir) if out_dir is not None else None
    precision = _resolve_precision(config.mixed_precision)
    _allow_new_precision(precision)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=precision,
                              log_with=config.log_with,
                              project_dir=str(out_path) if out_path is not None else None,
                              kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)])
    n_proc, rank = accelerator.num_processes, accelerator.process_index
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != n_proc:  # e.g. a state made earlier without cpu=True on a CPU-only machine
        raise RuntimeError(f"launched as {launched} processes, but accelerate sees {n_proc}; "
                           "every process would train alone")
    per_process = config.batch_size // n_proc
    if config.batch_size % (n_proc * config.grad_accum_steps):
        raise ValueError(f"TrainConfig.batch_size={config.batch_size} must be divisible by "
                         f"processes x grad_accum_steps = {n_proc} x {config.grad_accum_steps}")
    micro = per_process // config.grad_accum_steps
    torch.manual_seed(config.seed)
    # One generator, seeded alike on every process: all draw the same global batch and noise.
    generator = torch.Generator().manual_seed(config.seed)

    start_step, history, elapsed, running, resumed = 0, [], 0.0, None, None
    if out_path is not None and resume:
        loaded, resumed = _load_checkpoint(out_path)
        if loaded is not None:
            if loaded.config != model.config:
                raise ValueError(f"checkpoint in {out_path} was trained with a different model config")
            model.load_state_dict(loaded.state_dict())
    ema = None
    if config.ema_decay > 0:
        ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        generator.set_state(resumed["generator"])
        torch.set_rng_state(resumed["torch_rng"])
        start_step, history = resumed["step"], resumed["history"]
        elapsed, running = resumed["elapsed"], resumed["running"]
        if ema is not None and resumed.get("ema") is not None:
            ema.load_state_dict(resumed["ema"])
    raw_model = model
    objective, optimizer = accelerator.prepare(
        DiffusionObjective(model, config.free_bits), optimizer)
    device = accelerator.device
    if ema is not None:
        ema.to(device)
    objective.train()
    metrics = _MetricsLog(out_path / METRICS_NAME if out_path else None, start_step,
                          accelerator.is_main_process)
    if config.log_with:
        accelerator.init_trackers(description, config={k: v for k, v in asdict(config).items()
                                                      if isinstance(v, (int, float, str, bool))})

    def state(step: int, seconds: float) -> dict:
        return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                "step": step, "history": history, "running": running, "elapsed": seconds,
                "ema": None if ema is None else ema.state_dict(), "num_processes": n_proc}

    bar = tqdm(total=config.steps, initial=start_step, desc=description,
               disable=not config.progress or not accelerator.is_main_process, leave=False)
    t0 = time.perf_counter()
    for step in range(start_step, config.steps):
        batch = data.sample(config.batch_size, generator)
        noise = draw_training_noise(raw_model, None, config.batch_size, generator=generator,
                                    antithetic=config.antithetic, t_min=config.t_min,
                                    t_max=config.t_max)
        beta = kl_weight(step, config.kl_warmup_steps)
        totals = torch.zeros(4, device=device)  # loss, nll, kl, bound: read once per step
        for m in range(config.grad_accum_steps):
            rows = slice(rank * per_process + m * micro, rank * per_process + (m + 1) * micro)
            x0 = batch.x0[rows].to(device)
            maskable = None if batch.maskable is None else batch.maskable[rows].to(device)
            sync = m == config.grad_accum_steps - 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(objective):
                out = objective(x0, maskable, noise.rows(rows, device), beta)
                accelerator.backward(out[0] / config.grad_accum_steps)
            totals += torch.stack(out).detach().float()
        if config.grad_clip > 0:
            accelerator.clip_grad_norm_(objective.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            _update_ema(ema, raw_model, config.ema_decay, step)
        # Every process logs the global mean (a cheap all-reduce of four numbers).
        totals = accelerator.reduce(totals, "mean") / config.grad_accum_steps
        stats = dict(zip(("loss", "nll", "kl", "bound"), totals.tolist()))
        running = stats if running is None else {k: 0.95 * running[k] + 0.05 * v
                                                 for k, v in stats.items()}
        if config.log_every and (step + 1) % config.log_every == 0:
            row = {"step": step + 1, "beta": beta, "lr": scheduler.get_last_lr()[0],
                   **{k: round(v, 5) for k, v in running.items()}}
            history.append(row)
            metrics.write({**row, "last": {k: round(v, 5) for k, v in stats.items()}})
            if config.log_with:
                accelerator.log({k: v for k, v in row.items() if k != "step"}, step=step + 1)
            bar.set_postfix(bound=f"{running['bound']:.4f}", kl=f"{running['kl']:.3f}")
        bar.update(1)
        if evaluate is not None and config.eval_every and (step + 1) % config.eval_every == 0:
            if accelerator.is_main_process:
                target = ema if ema is not None else raw_model
                was_training = target.training
                target.eval()
                with torch.no_grad():
                    results = evaluate(target)
                target.train(was_training)
                history.append({"step": step + 1, "eval": results})
                metrics.write({"step": step + 1, "eval": results})
                bar.write(f"step {step + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in results.items()))
            accelerator.wait_for_everyone()
        if (out_path is not None and config.checkpoint_every
                and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps):
            if accelerator.is_main_process:
                _save_checkpoint(out_path, raw_model, state(step + 1, elapsed + time.perf_counter()
                                                            - t0), config)
            accelerator.wait_for_everyone()
    bar.close()
    elapsed += time.perf_counter() - t0
    if out_path is not None:
        if accelerator.is_main_process:
            _save_checkpoint(out_path, raw_model, state(config.steps, elapsed), config)
            (out_path / "history.json").write_text(json.dumps(history, indent=1))
        accelerator.wait_for_everyone()
    if config.log_with:
        accelerator.end_training()
    final = ema if ema is not None else raw_model
    final.eval()
    return TrainResult(final, history, elapsed, config.steps, config.steps * config.batch_size,
                       n_proc)

