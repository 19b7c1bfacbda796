"""Save and load trained models: `model.safetensors` (weights) + `config.json` (architecture)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .diffusion_model import MaskedDiffusionModel

__all__ = ["save_model", "load_model", "CONFIG_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "maskdiff-model"
FORMAT_VERSION = 1


def save_model(model: MaskedDiffusionModel, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write the weights and config to `directory` (created if needed); `extra` is stored as metadata
    (training recipe, metrics). Files are written to a temporary name and renamed, so an interrupted
    save never leaves a half-written model behind."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp_weights = directory / (WEIGHTS_NAME + ".tmp")
    save_file(state, str(tmp_weights), metadata={"format": FORMAT})
    os.replace(tmp_weights, directory / WEIGHTS_NAME)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model.config.to_dict(),
               "extra": extra or {}}
    tmp_config = directory / (CONFIG_NAME + ".tmp")
    tmp_config.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp_config, directory / CONFIG_NAME)
    return directory


def read_config(directory: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Read (ModelConfig, extra metadata) from a saved model directory."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no saved maskdiff model at {directory!s}: {CONFIG_NAME} is missing")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the model directory is corrupted") from err
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a maskdiff model config (format={payload.get('format')!r})")
    return ModelConfig.from_dict(payload["model"]), payload.get("extra", {})


def load_model(directory: str | os.PathLike,
               map_location: str | torch.device = "cpu") -> MaskedDiffusionModel:
    """Rebuild a model saved by `save_model`, in eval mode, ready to sample."""
    config, _ = read_config(directory)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"no weights at {weights}")
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"cannot read {weights}: {err}; the file is truncated or corrupted") from err
    model = MaskedDiffusionModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in set(expected) & set(state) if expected[k].shape != state[k].shape]
    if missing or unexpected or wrong_shape:
        raise ValueError(f"{weights} does not match its config: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}, wrong shape {sorted(wrong_shape)[:3]}")
    model.load_state_dict(state)
    return model.to(map_location).eval()
