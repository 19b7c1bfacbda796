"""Training checkpoints and the metrics log.

A checkpoint is a saved model (`save_model`) plus the trainer's state (optimiser, scheduler, EMA,
step, random state) in one folder, out_dir/checkpoint. It is written to checkpoint.tmp and swapped
in through checkpoint.old, so a run killed at any moment leaves one complete checkpoint behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import torch

from .models import MaskedDiffusionModel, load_model, read_config, save_model

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_metadata", "MetricsLog",
           "CHECKPOINT_DIR", "STATE_NAME", "METRICS_NAME"]

CHECKPOINT_DIR = "checkpoint"
STATE_NAME = "trainer_state.pt"
METRICS_NAME = "metrics.jsonl"


def save_checkpoint(out_dir: Path, model: MaskedDiffusionModel, state: dict, extra: dict) -> None:
    """Write out_dir/checkpoint: the model with `extra` as its metadata, and the trainer `state`."""
    final, tmp = out_dir / CHECKPOINT_DIR, out_dir / (CHECKPOINT_DIR + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, extra=extra)
    torch.save(state, tmp / STATE_NAME)
    old = out_dir / (CHECKPOINT_DIR + ".old")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def load_checkpoint(out_dir: Path) -> tuple[MaskedDiffusionModel, dict] | None:
    """The last complete checkpoint in out_dir as (model, trainer state), or None when there is
    none. A checkpoint with weights but no trainer state is refused: resuming from it would
    restart the optimiser, schedule and data stream at step 0 and overwrite the metrics log."""
    ckpt = _complete_checkpoint(out_dir)
    if ckpt is None:
        partial = out_dir / CHECKPOINT_DIR
        if partial.is_dir() and any(partial.iterdir()):
            raise ValueError(f"checkpoint {partial} has no {STATE_NAME} (optimiser, schedule, "
                             "step and random state), so the run cannot resume where it stopped; "
                             "restore the file, or start over in a new folder (or with "
                             "--no-resume / resume=False)")
        return None
    try:
        state = torch.load(ckpt / STATE_NAME, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"cannot read checkpoint {ckpt / STATE_NAME}: {err}; the file is "
                         f"truncated or corrupted (delete {ckpt} to start over)") from err
    return load_model(ckpt), state


def checkpoint_metadata(out_dir: Path) -> dict:
    """The metadata saved with the checkpoint in out_dir (train_config, step, identity...)."""
    ckpt = _complete_checkpoint(out_dir)
    return {} if ckpt is None else read_config(ckpt)[1]


def _complete_checkpoint(out_dir: Path) -> Path | None:
    """The folder of the last complete checkpoint (one with its trainer state) in out_dir:
    checkpoint, or checkpoint.old when a run was killed between the two renames; None if neither."""
    for name in (CHECKPOINT_DIR, CHECKPOINT_DIR + ".old"):
        if (out_dir / name / STATE_NAME).is_file():
            return out_dir / name
    return None


class MetricsLog:
    """Append-only JSONL log (one object per line). On resume, rows past the checkpoint's step
    (written before a kill) are dropped, so the file matches an uninterrupted run. With path None
    (or enabled False, e.g. on a process other than the main one) nothing is written."""

    def __init__(self, path: Path | None, resume_step: int, enabled: bool = True):
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
