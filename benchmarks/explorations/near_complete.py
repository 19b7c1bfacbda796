"""Exploration: one argmax call on nearly complete Sudoku boards (`near_complete_accuracy`).

Each of the pool recipe's validation puzzles has all but k of its blanks filled with the true
digits; one denoiser call, accuracy on those k cells, for each way of choosing a VMD's z. A model
that solves full puzzles must get these right: decodings of many calls pass through such states.

    python benchmarks/explorations/near_complete.py MODEL_OR_RUN_DIR [...] --left 10 3 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from maskdiff.checkpoint import load_checkpoint
from maskdiff.models import load_model
from maskdiff.tasks.sudoku.train import RECIPES, SudokuData, near_complete_accuracy, recipe_validation


def load(path: str):
    """A saved model folder, or a run folder's last checkpoint."""
    if (Path(path) / "config.json").is_file():
        return load_model(path).eval()
    model, state = load_checkpoint(Path(path))
    print(f"{path}: checkpoint at step {state['step']}")
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--left", type=int, nargs="+", default=[10, 3, 1])
    parser.add_argument("--puzzles", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = recipe_validation(SudokuData(**RECIPES["vmd-pool"].data))[:args.puzzles]
    for path in args.models:
        model = load(path)
        kinds = ("prior", "zero", "posterior") if model.config.is_vmd else ("prior",)
        for left in args.left:
            row = ", ".join(f"{k} {near_complete_accuracy(model, pairs, left, latent=k):.1%}"
                            for k in kinds)
            print(f"{path}  k={left}: {row}", flush=True)


if __name__ == "__main__":
    main()
