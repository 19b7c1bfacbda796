"""The Sudoku training recipe: one command per shipped model.

    maskdiff sudoku train --model mdm --out runs/sudoku-mdm
    maskdiff sudoku train --model vmd --out runs/sudoku-vmd

Data are complete grids streamed with fresh symmetry augmentations (`GridSource`); each cell is
masked with probability t, and t is drawn from [T_MIN, T_MAX] rather than [0, 1]: the test puzzles
sit at a mask ratio of about 0.7, cells at t < 0.3 are nearly always right after a short while, and
t > 0.85 leaves too few givens to determine anything. Validation is a separate stream of
unique-solution puzzles (seed 1; the test sets use seed 0), solved every `eval_every` steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from maskdiff.models import MaskedDiffusionModel, save_model
from maskdiff.training import TrainConfig, hardware_description, train

from .sudoku import GridSource, board_to_tokens, solve_puzzles, sudoku_model_config
from .sudoku_board import parse_board
from .sudoku_data import load_test_set, make_indexed_puzzle, write_test_set

__all__ = ["RECIPES", "SudokuRecipe", "train_sudoku", "validation_puzzles", "validation_metrics"]

VALIDATION_SEED = 1
T_MIN, T_MAX = 0.3, 0.85


@dataclass(frozen=True)
class SudokuRecipe:
    latent_dim: int
    train: TrainConfig
    num_base_grids: int = 3000
    validation_size: int = 64
    validation_nfe: int = 10


def _train_config(**overrides) -> TrainConfig:
    base = dict(steps=2500, batch_size=128, lr=1e-3, min_lr_ratio=0.05, warmup_steps=100,
                t_min=T_MIN, t_max=T_MAX, checkpoint_every=50, eval_every=250, log_every=25)
    base.update(overrides)
    return TrainConfig(**base)


RECIPES = {
    "mdm": SudokuRecipe(latent_dim=0, train=_train_config()),
    # The KL is annealed in over the first 40%, and each latent dimension may carry 0.2 nats
    # for free: without that floor the latent collapsed onto the prior (KL ~ 0) within 250 steps.
    "vmd": SudokuRecipe(latent_dim=32, train=_train_config(kl_warmup_steps=1000, free_bits=0.2)),
}


def validation_puzzles(count: int, cache: Path | None = None) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """`count` (puzzle, solution) pairs from the seed-1 stream (about 0.3 s each; cached in `cache`)."""
    if cache is not None and cache.is_file():
        pairs = load_test_set(cache)
        if len(pairs) == count:
            return pairs
    made = [make_indexed_puzzle(VALIDATION_SEED, i) for i in range(count)]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_test_set(cache, made)
    return [(parse_board(m["puzzle"]), parse_board(m["solution"])) for m in made]


def validation_metrics(model: MaskedDiffusionModel, pairs, nfe: int) -> dict:
    """Whole-board accuracy at `nfe` (top-prob-margin, argmax) and the share of blank cells that
    one denoiser call gets right from the bare puzzle."""
    puzzles = [p for p, _ in pairs]
    solutions = torch.tensor([s for _, s in pairs]) - 1
    result = solve_puzzles(model, puzzles, nfe=nfe, generator=torch.Generator().manual_seed(0))
    solved = sum(tuple(b) == tuple(s) for b, (_, s) in zip(result.boards, pairs))
    x = board_to_tokens(puzzles)
    blank = x == model.config.mask_id
    layout = model.sampling_layout(x)
    z = None
    if model.config.is_vmd:
        z = model.prior(layout).sample(torch.Generator().manual_seed(0))
    logits = model.logits(layout, None, z)[..., :model.config.vocab_size]
    cells = (logits.argmax(-1) == solutions)[blank].float().mean()
    return {f"solved@{nfe}": solved / len(pairs), "cell_acc@1": float(cells)}


def train_sudoku(kind: str, out_dir: str | Path, *, steps: int | None = None,
                 resume: bool = True, progress: bool = True, seed: int = 0,
                 recipe: SudokuRecipe | None = None) -> tuple[MaskedDiffusionModel, dict]:
    """Train the `kind` ("mdm" or "vmd") Sudoku model; checkpoints in out_dir/checkpoint, the final
    model in out_dir/model with its training record (hardware, wall time, steps, samples) in the
    saved model's metadata (`read_config(folder)[1]["training"]`)."""
    if recipe is None:
        if kind not in RECIPES:
            raise ValueError(f"unknown Sudoku model kind {kind!r}; choose one of {sorted(RECIPES)}")
        recipe = RECIPES[kind]
    config = recipe.train
    if steps is not None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        config = replace(config, steps=steps,
                         kl_warmup_steps=min(config.kl_warmup_steps, (2 * steps) // 5),
                         warmup_steps=min(config.warmup_steps, steps // 10))
    config = replace(config, seed=seed, progress=progress)
    out = Path(out_dir)
    torch.manual_seed(seed)
    model = MaskedDiffusionModel(sudoku_model_config(latent_dim=recipe.latent_dim))
    source = GridSource(recipe.num_base_grids, seed=seed)
    pairs = validation_puzzles(recipe.validation_size, out / "validation.csv")
    result = train(model, source, config, out_dir=out, resume=resume,
                   description=f"sudoku {kind}",
                   evaluate=lambda m: validation_metrics(m, pairs, recipe.validation_nfe))
    record = {"kind": kind, "hardware": hardware_description(),
              "wall_seconds": round(result.seconds, 1), "steps": result.steps,
              "samples_seen": result.samples_seen, "train_config": asdict(config),
              "num_parameters": result.model.num_parameters(),
              "final_eval": next((h["eval"] for h in reversed(result.history) if "eval" in h), None)}
    save_model(result.model, out / "model", extra={"training": record})
    return result.model, record

