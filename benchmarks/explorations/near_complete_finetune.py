"""Exploration: does the pool VMD fail on nearly complete boards because its training states never
include them (random reveals mask at least 40% of the blanks)? Fine-tune a checkpoint a few hundred
steps with the recipe's mask range and with one reaching nearly complete boards, then score both
with near_complete.py.

    python benchmarks/explorations/near_complete_finetune.py RUN_DIR OUT_DIR --low 0.02 --steps 300
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from maskdiff import save_model
from maskdiff.checkpoint import load_checkpoint
from maskdiff.tasks.sudoku.train import RECIPES, SudokuData, _source
from maskdiff.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out")
    parser.add_argument("--low", type=float, required=True, help="random reveals' lowest mask share")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, state = load_checkpoint(Path(args.run))
    recipe = RECIPES["vmd-pool"]
    data = SudokuData(**{**recipe.data, "random_mask": [args.low, 1.0]})
    config = replace(recipe.train, steps=args.steps, lr=args.lr, warmup_steps=0, min_lr_ratio=1.0,
                     kl_warmup_steps=0, eval_every=0, checkpoint_every=0, seed=1)
    print(f"from step {state['step']}: {args.steps} steps, random_mask [{args.low}, 1]", flush=True)
    result = train(model, _source(data, 1), config, description="finetune")
    save_model(result.model, Path(args.out))


if __name__ == "__main__":
    main()
