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
    """x0: (B, L) clean ids; maskable: (B, L) bool or None (False = conditioning, never masked).

    masked: (B, L) bool or None. None: the trainer masks each maskable position with probability
    t (the forward process). Given: the source has chosen the noised state itself (e.g. a solver's
    reveal order), the trainer scores exactly these positions and reads t as the masked share of
    each row's maskable positions (one-block models only)."""

    x0: torch.Tensor
    maskable: torch.Tensor | None = None
    masked: torch.Tensor | None = None

    def __post_init__(self):
        if self.masked is not None:
            if self.masked.shape != self.x0.shape or self.masked.dtype != torch.bool:
                raise ValueError(f"Batch.masked must be a bool tensor shaped like x0 "
                                 f"{tuple(self.x0.shape)}, got {self.masked.dtype} "
                                 f"{tuple(self.masked.shape)}")
            if self.maskable is not None and bool((self.masked & ~self.maskable).any()):
                raise ValueError("Batch.masked marks a position that is not maskable")


class BatchSource(Protocol):
    """Anything that draws training batches from a seeded generator."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...


def data_home() -> Path:
    """Where fetched and generated data live (corpora, tokenizers, the Sudoku pool):
    $MASKDIFF_HOME, or ~/.cache/maskdiff."""
    return Path(os.environ.get("MASKDIFF_HOME", Path.home() / ".cache" / "maskdiff"))
