"""Save and load trained models: `model.safetensors` (weights) + `config.json` (architecture)."""

from __future__ import annotations

import hashlib
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
# The sha256 of the weights file, in config.json (absent in models saved before it was recorded).
CHECKSUM_KEY = "weights_sha256"


def save_model(model: MaskedDiffusionModel, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write the weights and config to `directory` (created if needed); `extra` is stored as metadata
    (training recipe, metrics). The config records the sha256 of the weights file, which
    `load_model` checks. Files are written to a temporary name and renamed, so an interrupted
    save never leaves a half-written model behind."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp_weights = directory / (WEIGHTS_NAME + ".tmp")
    save_file(state, str(tmp_weights), metadata={"format": FORMAT})
    checksum = _file_sha256(tmp_weights)
    os.replace(tmp_weights, directory / WEIGHTS_NAME)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model.config.to_dict(),
               CHECKSUM_KEY: checksum, "extra": extra or {}}
    tmp_config = directory / (CONFIG_NAME + ".tmp")
    tmp_config.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp_config, directory / CONFIG_NAME)
    return directory


def read_config(directory: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Read (ModelConfig, extra metadata) from a saved model directory."""
    config, payload = _read_saved(directory)
    return config, payload.get("extra") or {}


def load_model(directory: str | os.PathLike,
               map_location: str | torch.device = "cpu") -> MaskedDiffusionModel:
    """Rebuild a model saved by `save_model`, in eval mode, ready to sample. The weights are
    checked against the sha256 the config records (models saved before it was recorded load
    unchecked)."""
    config, payload = _read_saved(directory)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"no weights at {weights}")
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"cannot read {weights}: {err}; the file is truncated or corrupted") from err
    _check_checksum(directory, payload.get(CHECKSUM_KEY))
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


def _file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_checksum(directory: str | os.PathLike, recorded: str | None) -> None:
    """Refuse weights whose sha256 differs from the one recorded at save time (None: not recorded)."""
    if recorded is not None and _file_sha256(Path(directory) / WEIGHTS_NAME) != recorded:
        raise ValueError(f"{directory!s}: the weights file {WEIGHTS_NAME} is damaged or was "
                         f"changed after saving (its sha256 differs from the one recorded in "
                         f"{CONFIG_NAME}); restore the folder or save the model again")


def _read_saved(directory: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """(ModelConfig, the whole config.json payload) of a saved model directory."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no saved maskdiff model at {directory!s}: {CONFIG_NAME} is missing")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the model directory is corrupted") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise ValueError(f"{path} is not a maskdiff model config (format={found!r})")
    try:
        return ModelConfig.from_dict(payload.get("model")), payload
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
