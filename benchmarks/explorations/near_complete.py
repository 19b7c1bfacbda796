"""Exploration: one argmax call on nearly complete Sudoku boards.

Each validation puzzle has all but k of its blanks filled with the true digits (the k left are
drawn at random, seeded); one denoiser call, accuracy on those k cells. A model that solves full
puzzles must get these right: decodings with many calls pass through such states.

    python benchmarks/explorations/near_complete.py MODEL_DIR [MODEL_DIR...] --left 40 10 3
"""

from __future__ import annotations

import argparse

import torch

from maskdiff.checkpoint import load_checkpoint
from maskdiff.models import load_model
from maskdiff.tasks.sudoku.model import board_to_tokens
from maskdiff.tasks.sudoku.train import RECIPES, SudokuData, recipe_validation

LATENTS = ("prior", "zero", "posterior")


def near_complete_states(pairs, left: int, seed: int = 0):
    """(states, solutions, masked): each puzzle with all but `left` blanks filled in."""
    gen = torch.Generator().manual_seed(seed)
    puzzles = board_to_tokens([p for p, _ in pairs])
    solutions = board_to_tokens([s for _, s in pairs])
    states = solutions.clone()
    for i in range(len(pairs)):
        blanks = torch.nonzero(puzzles[i] == 9).flatten()
        keep = blanks[torch.randperm(len(blanks), generator=gen)[:left]]
        states[i, keep] = 9
    return states, solutions, states == 9


@torch.no_grad()
def accuracy(model, states, solutions, masked, latent: str, seed: int = 0) -> float:
    gen = torch.Generator().manual_seed(seed)
    layout = model.sampling_layout(states)
    z = None
    if model.config.is_vmd:
        if latent == "prior":
            z = model.sample_prior(layout, gen)
        elif latent == "zero":
            z = torch.zeros_like(model.sample_prior(layout, gen))
        else:
            z = model.sample_posterior(solutions, masked, gen)
    guess = model.logits(layout, None, z)[..., :9].argmax(-1)
    return float((guess == solutions)[masked].float().mean())


def load(path: str):
    try:
        return load_model(path).eval()
    except Exception:  # a run folder: its last checkpoint
        model, state = load_checkpoint(__import__("pathlib").Path(path))
        print(f"{path}: checkpoint at step {state['step']}")
        return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--left", type=int, nargs="+", default=[40, 10, 3, 1])
    parser.add_argument("--puzzles", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = recipe_validation(SudokuData(**RECIPES["vmd-pool"].data))[:args.puzzles]
    for path in args.models:
        model = load(path)
        for left in args.left:
            states, solutions, masked = near_complete_states(pairs, left)
            kinds = LATENTS if model.config.is_vmd else ("none",)
            row = ", ".join(f"{k} {accuracy(model, states, solutions, masked, k):.1%}" for k in kinds)
            print(f"{path}  k={left}: {row}", flush=True)


if __name__ == "__main__":
    main()
