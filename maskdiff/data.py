"""The data contract between tasks and the engine: a `BatchSource` draws `Batch`es; `data_home`
is where tasks keep what they fetch or generate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

__all__ = ["data_home", "Batch", "BatchSource"]


@dataclass
class Batch:
    """x0: (B, L) clean ids; maskable: (B, L) bool or None (False = conditioning, never masked)."""

    x0: torch.Tensor
    maskable: torch.Tensor | None = None


class BatchSource(Protocol):
    """Anything that draws training batches from a seeded generator."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...


def data_home() -> Path:
    """Where fetched and generated data live (corpora, tokenizers, the Sudoku pool):
    $MASKDIFF_HOME, or ~/.cache/maskdiff."""
    return Path(os.environ.get("MASKDIFF_HOME", Path.home() / ".cache" / "maskdiff"))
