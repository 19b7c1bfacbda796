"""The data contract between tasks and the engine: a `BatchSource` draws `Batch`es."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

__all__ = ["Batch", "BatchSource"]


@dataclass
class Batch:
    """x0: (B, L) clean ids; maskable: (B, L) bool or None (False = conditioning, never masked)."""

    x0: torch.Tensor
    maskable: torch.Tensor | None = None


class BatchSource(Protocol):
    """Anything that draws training batches from a seeded generator."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch: ...
