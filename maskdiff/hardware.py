"""What a run ran on: a one-line hardware description and the versions of the software stack,
recorded with every trained model and every benchmark result."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

import torch

__all__ = ["hardware_description", "software_versions"]


def hardware_description() -> str:
    """A one-line description of the machine, e.g. "GPU NVIDIA H100" or "CPU <model>, 2 cores,
    1 torch thread"."""
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


def software_versions() -> dict[str, str]:
    """Versions of python, torch, the installed packages maskdiff uses (absent ones left out) and
    maskdiff itself (also when run from a source tree that is not installed)."""
    from . import __version__

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("triton", "transformers", "accelerate"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    versions["maskdiff"] = __version__
    return versions
