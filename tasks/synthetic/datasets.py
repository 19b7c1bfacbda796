"""The synthetic dependency sets of the VMD paper (Sections 4.1-4.2) and their metrics.

- two-uniform:    the 10 pairs (k, k+1 mod 10), each 1/10;
- two-nonuniform: the same pairs with P(k, k+1) = (k+1)/55;
- d1:             the 10 sequences (k, k+1, k+2, k+3) mod 10, uniform;
- d2:             the 100 sequences (k, k+1, l, l+1) mod 10, uniform.

Decoding dependent tokens in one step from a factorised denoiser draws every position from its
marginal, so its accuracy is known in closed form (`factorised_accuracy`): a baseline that does not
land on it has a bug.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from maskdiff.data import Batch
from maskdiff.evaluation import DistributionMetrics, distribution_metrics

__all__ = ["SyntheticDataset", "get_dataset", "DATASETS", "KL_SMOOTHING"]

VOCAB = 10
# Pseudo-count added to every one of the V^L possible sequences when estimating p_model for the KL.
KL_SMOOTHING = 1e-3


@dataclass
class SyntheticDataset:
    """A finite distribution over length-L sequences of digits 0..9."""

    name: str
    sequences: torch.Tensor  # (K, L) long
    probs: torch.Tensor  # (K,) float64, sums to 1
    vocab_size: int = VOCAB

    @property
    def seq_len(self) -> int:
        return self.sequences.shape[1]

    @property
    def num_outcomes(self) -> int:
        return self.vocab_size ** self.seq_len

    def support(self) -> dict[tuple, float]:
        return {tuple(s): float(p) for s, p in zip(self.sequences.tolist(), self.probs.tolist())}

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A training batch of i.i.d. sequences (no conditioning positions)."""
        idx = torch.multinomial(self.probs.float(), batch_size, replacement=True, generator=generator)
        return Batch(self.sequences[idx])

    def metrics(self, samples: torch.Tensor, smoothing: float = KL_SMOOTHING) -> DistributionMetrics:
        if samples.shape[1] != self.seq_len:
            raise ValueError(f"{self.name} sequences have length {self.seq_len}, "
                             f"samples have {samples.shape[1]}")
        return distribution_metrics(samples, self.support(), self.num_outcomes, smoothing)

    def factorised_accuracy(self, num_blocks: int) -> float:
        """Exact accuracy of a perfect denoiser that decodes each block in one step: within a
        block every position is drawn from its true conditional marginal given the earlier blocks."""
        L = self.seq_len
        if L % num_blocks:
            raise ValueError(f"{num_blocks} blocks do not divide length {L}")
        b = L // num_blocks
        support = self.support()
        total = 0.0
        for x in support:
            p = 1.0
            for k in range(num_blocks):
                prefix = x[: k * b]
                ctx = {s: q for s, q in support.items() if s[: k * b] == prefix}
                z = sum(ctx.values())
                for i in range(k * b, (k + 1) * b):
                    p *= sum(q for s, q in ctx.items() if s[i] == x[i]) / z
            total += p
        return total


def _make(name: str) -> SyntheticDataset:
    if name == "two-uniform":
        seqs = [(k, (k + 1) % 10) for k in range(10)]
        probs = [0.1] * 10
    elif name == "two-nonuniform":
        seqs = [(k, (k + 1) % 10) for k in range(10)]
        probs = [(k + 1) / 55 for k in range(10)]
    elif name == "d1":
        seqs = [tuple((k + j) % 10 for j in range(4)) for k in range(10)]
        probs = [0.1] * 10
    elif name == "d2":
        seqs = [(k, (k + 1) % 10, l, (l + 1) % 10) for k, l in itertools.product(range(10), repeat=2)]
        probs = [0.01] * 100
    else:  # pragma: no cover - guarded by get_dataset
        raise AssertionError(name)
    return SyntheticDataset(name, torch.tensor(seqs, dtype=torch.long),
                            torch.tensor(probs, dtype=torch.float64))


DATASETS = ("two-uniform", "two-nonuniform", "d1", "d2")
_ALIASES = {"D1": "d1", "D2": "d2", "two_uniform": "two-uniform", "two_nonuniform": "two-nonuniform"}


def get_dataset(name: str) -> SyntheticDataset:
    """One of "two-uniform", "two-nonuniform", "d1", "d2"."""
    key = _ALIASES.get(name, name)
    if key not in DATASETS:
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of {list(DATASETS)}")
    return _make(key)
