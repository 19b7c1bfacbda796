"""The training loop: one code path (accelerate) from a laptop CPU to many GPUs.

Data comes from a `BatchSource` (anything with `sample(batch_size, generator) -> Batch`), so tasks
plug in without the engine knowing them. `TrainConfig.batch_size` is the global batch: every
process draws the same batch and the same noise from one seeded generator and trains on its own
slice of rows (split further into `grad_accum_steps` micro-batches), so a run on N processes sees
exactly the data and noise of a one-process run with the same global batch. The loss is computed
inside the module accelerate wraps (`DiffusionObjective`), so DDP's gradient hooks see it, with
the model's own noise schedule.

Checkpoints (`maskdiff.checkpoint`) hold the model, optimiser, learning-rate scheduler, EMA
weights, step and random state, so a run killed at any moment resumes from its last complete
checkpoint and follows the loss curve of an uninterrupted run.

Multi-GPU: `maskdiff/configs/accelerate/` ships launch configs for DDP (`ddp.yaml`) and FSDP
(`fsdp.yaml`, FSDP version 2: torch's `fully_shard`, one shard unit per `TransformerBlock`).
Under FSDP the prepared model's parameters are DTensor shards, so the trainer keeps the EMA as
shards alike (each process averages its own slice, no communication) and gathers full tensors
(a collective every process joins) only to save a checkpoint, evaluate, or return the model. The
checkpoint then holds the same full, unsharded weights and optimiser state as a one-process or
DDP run, so a run may resume under any of the three. FSDP cannot run on CPU with accelerate 1.15:
`AcceleratorState` turns `ACCELERATE_USE_FSDP` into FSDP only for GPU-like device types
(MULTI_GPU, MULTI_NPU, ...), and CPU processes (gloo, MULTI_CPU) are left as plain data parallel
without a word; torch's `fully_shard` itself works on CPU over gloo. The trainer refuses such a
launch (`_accelerator`) instead of training unsharded.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import (
    METRICS_NAME,
    MetricsLog,
    checkpoint_metadata,
    load_checkpoint,
    save_checkpoint,
)
from .data import Batch, BatchSource
from .models import MaskedDiffusionModel
from .objectives import WEIGHTINGS, TrainingNoise, diffusion_loss, draw_training_noise, kl_weight
from .schedules import get_schedule

__all__ = ["TrainConfig", "TrainResult", "DiffusionObjective", "train", "METRICS_NAME",
           "MIXED_PRECISION"]

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
STATS = ("loss", "nll", "kl", "bound")
# TrainConfig fields a resumed run may change: the schedule's length (to extend a run; the change
# is recorded in the history) and what is logged, evaluated or shown. Any other change would mix
# two different runs in one curve, so it is refused.
SCHEDULE_FIELDS = ("steps", "warmup_steps", "kl_warmup_steps")
REPORTING_FIELDS = ("eval_every", "checkpoint_every", "log_every", "log_with", "progress")


@dataclass
class TrainConfig:
    """Optimisation recipe. Every field is validated; errors name the field.

    batch_size is the global batch (all processes, all accumulation micro-batches together).
    mixed_precision: "auto" is bf16 on a GPU that supports it and full precision elsewhere.
    ema_decay: 0 disables the exponential moving average of the weights; with it, evaluation and
    the returned model use the EMA weights. log_with: accelerate tracker names (e.g. "tensorboard")
    or "all" for every installed one. The noise schedule is the model's (`ModelConfig.schedule`).
    loss_weighting: "elbo" (w(t) per masked token: the bound) or "per-cell" (mean cross-entropy
    over masked tokens); see `maskdiff.objectives.diffusion_loss`. free_bits: a floor on each
    latent dimension's KL (nats); fit_prior: a learned prior keeps fitting the posteriors where
    that floor holds (see `diffusion_loss`)."""

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
    fit_prior: bool = True
    loss_weighting: str = "elbo"
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
        if self.loss_weighting not in WEIGHTINGS:
            raise ValueError(f"TrainConfig.loss_weighting must be one of {WEIGHTINGS}, "
                             f"got {self.loss_weighting!r}")
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


class DiffusionObjective(nn.Module):
    """The model plus its loss, as one module: what accelerate prepares (and DDP wraps), so the
    loss's forward pass runs through the wrapper's hooks (mixed precision, gradient sync). The
    loss uses the model's own noise schedule."""

    def __init__(self, model: MaskedDiffusionModel, free_bits: float, weighting: str = "elbo",
                 fit_prior: bool = True):
        super().__init__()
        self.model, self.free_bits, self.weighting = model, free_bits, weighting
        self.fit_prior = fit_prior
        self.schedule = get_schedule(model.config.schedule)

    def forward(self, x0: torch.Tensor, maskable: torch.Tensor | None, noise: TrainingNoise,
                beta: float, masked: torch.Tensor | None = None):
        out = diffusion_loss(self.model, x0, self.schedule, maskable=maskable, beta=beta,
                             free_bits=self.free_bits, fit_prior=self.fit_prior, noise=noise,
                             masked=masked,
                             weighting=self.weighting)
        return out.loss, out.nll, out.kl, out.bound


def train(model: MaskedDiffusionModel, data: BatchSource, config: TrainConfig | None = None,
          out_dir: str | os.PathLike | None = None, resume: bool = True,
          description: str = "train",
          evaluate: Callable[[MaskedDiffusionModel], dict] | None = None,
          identity: dict | None = None) -> TrainResult:
    """Train `model` on batches from `data`. With `out_dir`, checkpoints go to out_dir/checkpoint,
    metrics to out_dir/metrics.jsonl, and an existing checkpoint there is resumed (same loss curve
    as an uninterrupted run). `evaluate(model) -> dict` runs every `config.eval_every` steps on
    the main process (EMA weights when enabled, eval mode, no grad); its numbers join the history
    under "eval". Runs under `accelerate launch` shard each global batch over the processes.

    A resumed run must be the same run: the checkpoint's model config, its training config (all
    but the schedule's length and the reporting fields) and `identity` (JSON-able facts about the
    data the caller wants held fixed, e.g. a recipe's data section) must match, or a ValueError
    names what changed. Under FSDP, `model` itself is left sharded (DTensor parameters):
    use the returned `TrainResult.model`, a plain module with the full weights."""
    config = config or TrainConfig()
    out_path = Path(out_dir) if out_dir is not None else None
    run = _Run(model, config, _accelerator(config, out_path), out_path, resume, description,
               identity)
    return run.fit(data, evaluate)


def _accelerator(config: TrainConfig, out_path: Path | None):
    """An Accelerator for this run, checked against the launch and the batch split."""
    from accelerate import Accelerator  # imported here: a second-long import the CLI often skips
    from accelerate.utils import DistributedDataParallelKwargs, DistributedType

    precision = _resolve_precision(config.mixed_precision)
    _allow_new_precision(precision)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=precision,
                              log_with=config.log_with,
                              project_dir=str(out_path) if out_path is not None else None,
                              kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)])
    n_proc = accelerator.num_processes
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != n_proc:  # e.g. a state made earlier without cpu=True on a CPU-only machine
        raise RuntimeError(f"launched as {launched} processes, but accelerate sees {n_proc}; "
                           "every process would train alone")
    fsdp = accelerator.distributed_type == DistributedType.FSDP
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" and not fsdp:
        # accelerate (1.15) switches to FSDP only on GPU-like devices; on CPU it would silently
        # fall back to unsharded data parallel (see the module docstring).
        raise RuntimeError(
            f"launched with FSDP, but accelerate set up {accelerator.distributed_type.value} on "
            f"{accelerator.device.type}: accelerate enables FSDP only on GPUs (and other "
            "accelerators), not on CPU processes. Launch with the DDP config "
            "(maskdiff/configs/accelerate/ddp_cpu.yaml) on CPU, or FSDP on GPUs")
    if fsdp and accelerator.state.fsdp_plugin.fsdp_version != 2:
        raise ValueError("maskdiff trains under FSDP version 2 (fsdp_version: 2 in the accelerate "
                         "config, as in maskdiff/configs/accelerate/fsdp.yaml), not version "
                         f"{accelerator.state.fsdp_plugin.fsdp_version}")
    if config.batch_size % (n_proc * config.grad_accum_steps):
        raise ValueError(f"TrainConfig.batch_size={config.batch_size} must be divisible by "
                         f"processes x grad_accum_steps = {n_proc} x {config.grad_accum_steps}")
    return accelerator


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


def _lr_lambda(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine
    return factor


def _update_ema(ema: list[torch.Tensor], params, decay: float, step: int) -> None:
    """ema <- lerp towards params (plain tensors, or under FSDP DTensor shards laid out alike)."""
    # Warm-up of the decay so early EMA weights are not dominated by the random initialisation.
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - d)


def _unshard(params, into: nn.Module) -> nn.Module:
    """Copy the full value of each FSDP-sharded parameter (DTensor) into the plain module `into`,
    whose parameters come in the same order. A collective: every process must call it."""
    with torch.no_grad():
        for target, p in zip(into.parameters(), list(params), strict=True):
            target.copy_(p.full_tensor())
    return into


def _shard_like(full: torch.Tensor, param) -> torch.Tensor:
    """`full` (a whole tensor, the same on every process) split as the DTensor `param` is."""
    from torch.distributed.tensor import distribute_tensor

    return distribute_tensor(full.detach().to(param.device), param.device_mesh, param.placements)


def _optimizer_state(state: dict, gather: bool, params: list | None = None) -> dict:
    """An optimiser state dict with each per-parameter tensor gathered to its full value on the
    CPU (gather=True: a collective), or one such full state split again like the current sharded
    `params` (gather=False), so checkpoints hold the same state with or without FSDP."""
    from torch.distributed.tensor import DTensor

    def convert(i, value):
        if gather:
            return value.full_tensor().cpu() if isinstance(value, DTensor) else value
        p = params[i]
        return _shard_like(value, p) if torch.is_tensor(value) and value.shape == p.shape else value

    return {**state, "state": {i: {k: convert(i, v) for k, v in s.items()}
                               for i, s in state["state"].items()}}


def _resume(model: MaskedDiffusionModel, config: TrainConfig, identity: dict | None,
            out_path: Path) -> tuple[dict, dict] | None:
    """Load the weights of the checkpoint in out_path into `model`; (trainer state, the schedule
    fields that changed), or None when there is no checkpoint. Refuses a different run."""
    found = load_checkpoint(out_path)
    if found is None:
        return None
    loaded, state = found
    if loaded.config != model.config:
        raise ValueError(f"checkpoint in {out_path} was trained with a different model config")
    saved = checkpoint_metadata(out_path)
    changed = _changed_fields(saved.get("train_config", {}), asdict(config))
    refused = {k: v for k, v in changed.items() if k not in SCHEDULE_FIELDS + REPORTING_FIELDS}
    if _plain(saved.get("identity", identity)) != _plain(identity):
        refused["data"] = (saved.get("identity"), identity)
    if refused:
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in refused.items())
        raise ValueError(f"the checkpoint in {out_path} belongs to a different run ({listed}). "
                         "Resume with the settings it was trained with, or start over in a new "
                         "folder (or with --no-resume / resume=False)")
    model.load_state_dict(loaded.state_dict())
    return state, {k: v for k, v in changed.items() if k in SCHEDULE_FIELDS}


def _changed_fields(saved: dict, current: dict) -> dict:
    """field -> (saved value, current value) for every field whose value differs (JSON-wise:
    tuples and lists compare equal); fields missing from `saved` (older checkpoints) are skipped."""
    return {k: (saved[k], v) for k, v in current.items() if k in saved and _plain(saved[k]) != _plain(v)}


def _plain(value):
    """`value` as it reads back from a checkpoint's JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


class _Run:
    """One training run: the prepared model, optimiser, EMA, random state and logs."""

    def __init__(self, model: MaskedDiffusionModel, config: TrainConfig, accelerator,
                 out_path: Path | None, resume: bool, description: str,
                 identity: dict | None = None):
        from accelerate.utils import DistributedType

        self.model, self.config, self.accelerator = model, config, accelerator
        self.out_path, self.description, self.identity = out_path, description, identity
        # Under FSDP `model`'s parameters become DTensor shards once prepared: they cannot be
        # saved, evaluated on one process or returned as they are, so `host` (a plain copy on the
        # CPU) receives the gathered full weights when one of those is needed (`_plain`).
        self.sharded = accelerator.distributed_type == DistributedType.FSDP
        n_proc = accelerator.num_processes
        self.per_process = config.batch_size // n_proc
        self.micro = self.per_process // config.grad_accum_steps
        torch.manual_seed(config.seed)
        # One generator, seeded alike on every process: all draw the same global batch and noise.
        self.generator = torch.Generator().manual_seed(config.seed)
        resumed = None
        if out_path is not None and resume:
            resumed = _resume(model, config, identity, out_path)
        self.ema = None
        if config.ema_decay > 0:
            self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.host = copy.deepcopy(model).requires_grad_(False) if self.sharded else None
        # The fused kernel is several times faster than the per-tensor loop on the CPU (a few
        # percent of a small model's step); FSDP's sharded parameters keep the default.
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay, betas=(0.9, 0.99),
                                           fused=None if self.sharded else True)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(config))
        self.start_step, self.history, self.elapsed, self.running = 0, [], 0.0, None
        if resumed is not None:
            self._restore(resumed[0])  # under FSDP, all but the optimiser (loaded once sharded)
            if self.start_step > config.steps:
                raise ValueError(f"the checkpoint in {out_path} is at step {self.start_step}, past "
                                 f"this run's {config.steps} steps; ask for at least "
                                 f"{self.start_step} steps, or start over in a new folder")
            if resumed[1] and self.start_step < config.steps:
                # an extended run: its history says where and how the schedule changed
                self.history.append({"step": self.start_step, "resumed_with": {
                    k: {"was": old, "now": new} for k, (old, new) in resumed[1].items()}})
        self.objective, self.optimizer = accelerator.prepare(
            DiffusionObjective(model, config.free_bits, config.loss_weighting, config.fit_prior),
            self.optimizer)
        # The EMA's parameters: those of the EMA copy, or under FSDP shards laid out like the
        # model's (the copy then stays on the CPU, the target of `_plain(ema=True)`).
        self.ema_params = None
        if self.ema is not None and self.sharded:
            self.ema_params = [_shard_like(e, p) for e, p in zip(self.ema.parameters(),
                                                                 self.model.parameters(), strict=True)]
        elif self.ema is not None:
            self.ema_params = list(self.ema.to(accelerator.device).parameters())
        if resumed is not None and self.sharded:
            # The optimiser's state is keyed to parameters that FSDP has just replaced by shards.
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            self.optimizer.load_state_dict(_optimizer_state(resumed[0]["optimizer"], False, params))
        self.objective.train()
        self.metrics = MetricsLog(out_path / METRICS_NAME if out_path else None, self.start_step,
                                  accelerator.is_main_process)

    def _restore(self, state: dict) -> None:
        if not self.sharded:
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.start_step, self.history = state["step"], state["history"]
        self.elapsed, self.running = state["elapsed"], state["running"]
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])

    def _plain(self, ema: bool) -> nn.Module:
        """The raw (or EMA) weights as a plain module: the module itself, or under FSDP the CPU
        copy filled with the gathered full weights (a collective: every process must call it)."""
        if not self.sharded:
            return self.ema if ema else self.model
        if ema:
            return _unshard(self.ema_params, self.ema)
        return _unshard(self.model.parameters(), self.host)

    def _state(self, step: int, seconds: float) -> dict:
        """The trainer state to checkpoint; under FSDP a collective (every process calls it)."""
        optimizer = self.optimizer.state_dict()
        if self.sharded:
            optimizer = _optimizer_state(optimizer, gather=True)
        return {"optimizer": optimizer, "scheduler": self.scheduler.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "step": step, "history": self.history, "running": self.running,
                "elapsed": seconds,
                "ema": None if self.ema is None else self._plain(ema=True).state_dict(),
                "num_processes": self.accelerator.num_processes}

    def fit(self, data: BatchSource, evaluate) -> TrainResult:
        """Train from the start (or resumed) step to config.steps; the final model and history."""
        config, accelerator = self.config, self.accelerator
        if config.log_with:
            accelerator.init_trackers(self.description, config={
                k: v for k, v in asdict(config).items() if isinstance(v, (int, float, str, bool))})
        self.bar = tqdm(total=config.steps, initial=self.start_step, desc=self.description,
                        disable=not config.progress or not accelerator.is_main_process, leave=False)
        t0 = time.perf_counter()
        for step in range(self.start_step, config.steps):
            self._log(step, *self._optimise(data, step))
            if evaluate is not None and _every(config.eval_every, step):
                self._evaluate(step, evaluate)
            last = step + 1 == config.steps  # the final checkpoint is written after the loop
            if self.out_path is not None and _every(config.checkpoint_every, step) and not last:
                self._checkpoint(step + 1, self.elapsed + time.perf_counter() - t0)
        self.bar.close()
        self.elapsed += time.perf_counter() - t0
        if self.out_path is not None:
            self._checkpoint(config.steps, self.elapsed, history_file=True)
        if config.log_with:
            accelerator.end_training()
        final = self._plain(ema=self.ema is not None)
        final.eval()
        return TrainResult(final, self.history, self.elapsed, config.steps,
                           config.steps * config.batch_size, accelerator.num_processes)

    def _optimise(self, data: BatchSource, step: int) -> tuple[dict, float]:
        """One optimiser step on a fresh global batch: its mean statistics and the KL weight."""
        config = self.config
        batch = data.sample(config.batch_size, self.generator)
        noise = draw_training_noise(self.model, None, config.batch_size, generator=self.generator,
                                    antithetic=config.antithetic, t_min=config.t_min,
                                    t_max=config.t_max)
        beta = kl_weight(step, config.kl_warmup_steps)
        totals = self._backward(batch, noise, beta)
        if config.grad_clip > 0:
            self.accelerator.clip_grad_norm_(self.objective.parameters(), config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            _update_ema(self.ema_params, self.model.parameters(), config.ema_decay, step)
        # Every process logs the global mean (a cheap all-reduce of four numbers).
        totals = self.accelerator.reduce(totals, "mean") / config.grad_accum_steps
        return dict(zip(STATS, totals.tolist())), beta

    def _backward(self, batch: Batch, noise: TrainingNoise, beta: float) -> torch.Tensor:
        """Gradients of this process's rows, micro-batch by micro-batch; summed STATS (4,)."""
        accelerator, n_micro = self.accelerator, self.config.grad_accum_steps
        device = accelerator.device
        first = accelerator.process_index * self.per_process
        totals = torch.zeros(len(STATS), device=device)  # read once per step
        for m in range(n_micro):
            rows = slice(first + m * self.micro, first + (m + 1) * self.micro)
            x0 = batch.x0[rows].to(device)
            maskable = None if batch.maskable is None else batch.maskable[rows].to(device)
            masked = None if batch.masked is None else batch.masked[rows].to(device)
            sync = m == n_micro - 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(self.objective):
                out = self.objective(x0, maskable, noise.rows(rows, device), beta, masked)
                accelerator.backward(out[0] / n_micro)
            totals += torch.stack(out).detach().float()
        return totals

    def _log(self, step: int, stats: dict, beta: float) -> None:
        """Update the running means; every log_every steps, record them."""
        config = self.config
        self.running = stats if self.running is None else {
            k: 0.95 * self.running[k] + 0.05 * v for k, v in stats.items()}
        if _every(config.log_every, step):
            row = {"step": step + 1, "beta": beta, "lr": self.scheduler.get_last_lr()[0],
                   **{k: round(v, 5) for k, v in self.running.items()}}
            self.history.append(row)
            self.metrics.write({**row, "last": {k: round(v, 5) for k, v in stats.items()}})
            if config.log_with:
                self.accelerator.log({k: v for k, v in row.items() if k != "step"}, step=step + 1)
            self.bar.set_postfix(bound=f"{self.running['bound']:.4f}",
                                 kl=f"{self.running['kl']:.3f}")
        self.bar.update(1)

    def _evaluate(self, step: int, evaluate) -> None:
        """Run `evaluate` on the main process (EMA weights when kept, eval mode, no grad)."""
        target = self._plain(ema=self.ema is not None)  # gathered on every process under FSDP
        if self.accelerator.is_main_process:
            was_training = target.training
            target.eval()
            with torch.no_grad():
                results = evaluate(target)
            target.train(was_training)
            self.history.append({"step": step + 1, "eval": results})
            self.metrics.write({"step": step + 1, "eval": results})
            self.bar.write(f"step {step + 1}: "
                           + ", ".join(f"{k} {v:.4g}" for k, v in results.items()))
        self.accelerator.wait_for_everyone()

    def _checkpoint(self, step: int, seconds: float, history_file: bool = False) -> None:
        """Save a checkpoint at `step` from the main process (and history.json at the end).
        Under FSDP every process first joins in gathering the full weights and state."""
        model, state = self._plain(ema=False), self._state(step, seconds)
        if self.accelerator.is_main_process:
            extra = {"train_config": asdict(self.config), "step": step,
                     "num_processes": self.accelerator.num_processes, "identity": self.identity}
            save_checkpoint(self.out_path, model, state, extra)
            if history_file:
                (self.out_path / "history.json").write_text(json.dumps(self.history, indent=1))
        self.accelerator.wait_for_everyone()


def _every(period: int, step: int) -> bool:
    """Whether something done every `period` steps (0: never) is due after step `step`."""
    return bool(period) and (step + 1) % period == 0
