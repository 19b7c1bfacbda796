"""Configuration files shipped with the package: `accelerate/` holds accelerate launch configs
(`ddp`, `fsdp`, `ddp_cpu`); `python -m maskdiff.configs NAME` prints one's path, for
`accelerate launch --config_file "$(python -m maskdiff.configs fsdp)" -m maskdiff train ...`."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ACCELERATE_CONFIGS", "accelerate_config"]

_HERE = Path(__file__).parent / "accelerate"
ACCELERATE_CONFIGS = tuple(sorted(p.stem for p in _HERE.glob("*.yaml")))


def accelerate_config(name: str) -> Path:
    """The path of the shipped accelerate config `name` (e.g. "ddp", "fsdp", "ddp_cpu")."""
    path = _HERE / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no shipped accelerate config {name!r}; choose one of {list(ACCELERATE_CONFIGS)}")
    return path
