"""Calibration of committed tokens: does a token committed with confidence p turn out right with
probability p? A reliability table (confidence bins against accuracy) and its diagram, for any
model on any task that knows the right tokens (e.g. Sudoku's solutions)."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["reliability", "expected_calibration_error", "plot_reliability"]


def reliability(confidence: torch.Tensor, correct: torch.Tensor, bins: int = 10) -> list[dict]:
    """One row per confidence bin [lo, hi): count, mean confidence and accuracy of the committed
    tokens in it. confidence, correct: same shape; NaN confidences (conditioning) are left out."""
    if confidence.shape != correct.shape:
        raise ValueError(f"confidence {tuple(confidence.shape)} and correct {tuple(correct.shape)} "
                         "must have one shape")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    keep = ~torch.isnan(confidence)
    conf, right = confidence[keep].double(), correct[keep].double()
    index = (conf * bins).long().clamp(0, bins - 1)
    rows = []
    for b in range(bins):
        sel = index == b
        n = int(sel.sum())
        rows.append({"lo": b / bins, "hi": (b + 1) / bins, "count": n,
                     "confidence": float(conf[sel].mean()) if n else None,
                     "accuracy": float(right[sel].mean()) if n else None})
    return rows


def expected_calibration_error(rows: list[dict]) -> float:
    """Count-weighted mean |accuracy - confidence| over the bins of a reliability table."""
    total = sum(r["count"] for r in rows)
    if total == 0:
        return float("nan")
    return sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["count"]) / total


def plot_reliability(tables: dict[str, list[dict]], path: str | Path, title: str = "") -> Path:
    """A reliability diagram, one line per named table, with the diagonal of perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    for name, rows in tables.items():
        pts = [(r["confidence"], r["accuracy"]) for r in rows if r["count"]]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                label=f"{name} (ECE {expected_calibration_error(rows):.3f})")
    ax.set_xlabel("confidence of the committed token")
    ax.set_ylabel("share of committed tokens that are right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
