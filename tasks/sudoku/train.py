"""The Sudoku training recipes: one named recipe per shipped model.

    maskdiff sudoku train --model mdm --out runs/sudoku-mdm
    maskdiff train --config my-sudoku.yaml          (any recipe with `task: sudoku`)

Data are complete grids streamed with fresh symmetry augmentations (`GridSource`); each cell is
masked with probability t, and t is drawn from [T_MIN, T_MAX] rather than [0, 1]: the test puzzles
sit at a mask ratio of about 0.7, cells at t < 0.3 are nearly always right after a short while, and
t > 0.85 leaves too few givens to determine anything. Validation is a separate stream of
unique-solution puzzles (seed 1; the test sets use seed 0), solved every `eval_every` steps with
the recipe's sampler.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from maskdiff import Batch, MaskedDiffusionModel, SamplerConfig, TrainConfig, save_model
from maskdiff.hardware import hardware_description
from maskdiff.recipe import Recipe, config_section
from maskdiff.training import train

from .board import parse_board
from .generate import augment, random_grid
from .model import board_to_tokens, sudoku_model_config
from .solve import solve_puzzles
from .testsets import load_test_set, make_indexed_puzzle, write_test_set

__all__ = ["RECIPES", "SudokuData", "GridSource", "PuzzleSource", "run_recipe", "train_sudoku",
           "validation_puzzles", "validation_metrics", "T_MIN", "T_MAX"]

VALIDATION_SEED = 1
T_MIN, T_MAX = 0.3, 0.85


SOURCES = ("grids", "pool")


@dataclass
class SudokuData:
    """The recipe's `data` section. source "grids": complete grids from `num_base_grids` random
    base grids (every cell maskable); "pool": (puzzle, solution) pairs of the training pool
    (`maskdiff sudoku pool`; its first `pool_size` puzzles, read from `pool`, default the data
    home's), givens as conditioning. validation_size: validation puzzles (seed 1)."""

    source: str = "grids"
    num_base_grids: int = 3000
    pool: str | None = None
    pool_size: int = 50_000
    validation_size: int = 64

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"data.source must be one of {SOURCES}, got {self.source!r}")
        for name in ("num_base_grids", "pool_size", "validation_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"data.{name} must be an integer >= 1, got {getattr(self, name)!r}")


class GridSource:
    """Streams complete grids: a fixed pool of random base grids, each draw freshly augmented by
    one of the 3,359,232 grid symmetries times a digit relabelling. Every cell is maskable."""

    def __init__(self, num_base_grids: int = 3000, seed: int = 0):
        if num_base_grids < 1:
            raise ValueError(f"num_base_grids must be >= 1, got {num_base_grids}")
        rng = random.Random(f"grids:{seed}")
        self.base = [random_grid(rng) for _ in range(num_base_grids)]

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        # The symmetry draw is seeded from the torch generator, so a resumed run continues exactly.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = random.Random(seed)
        grids = [augment(rng.choice(self.base), rng) for _ in range(batch_size)]
        return Batch(board_to_tokens(grids))


class PuzzleSource:
    """Streams training states of real puzzles: the solution is x0 and only the puzzle's blanks
    are maskable (givens are conditioning: never masked, never scored), so the forward process
    reveals a random share of the blanks (none when every blank is masked: the bare puzzle).
    Each draw is freshly augmented: the same symmetry and relabelling on puzzle and solution."""

    def __init__(self, pairs: list[tuple[tuple[int, ...], tuple[int, ...]]]):
        if not pairs:
            raise ValueError("the puzzle pool is empty")
        self.pairs = pairs

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = random.Random(seed)
        puzzles, solutions = [], []
        for _ in range(batch_size):
            puzzle, solution = rng.choice(self.pairs)
            state = rng.getstate()  # one symmetry for both
            puzzles.append(augment(puzzle, rng))
            rng.setstate(state)
            solutions.append(augment(solution, rng))
        maskable = torch.tensor(puzzles) == 0  # (B, 81): the blanks
        return Batch(board_to_tokens(solutions), maskable)


def _source(data: SudokuData, seed: int):
    if data.source == "grids":
        return GridSource(data.num_base_grids, seed=seed)
    from .benchmark import load_buckets
    from .pool import default_pool_path, drop_test_overlap, load_pool

    path = Path(data.pool) if data.pool else default_pool_path()
    if not path.is_file():
        raise FileNotFoundError(f"no puzzle pool at {path}; make it with `maskdiff sudoku pool "
                                f"--count {data.pool_size}`")
    rows = load_pool(path, data.pool_size)
    if len(rows) < data.pool_size:
        raise ValueError(f"{path} holds {len(rows):,} puzzles, the recipe asks for "
                         f"{data.pool_size:,}; resume it with `maskdiff sudoku pool --count "
                         f"{data.pool_size}`")
    rows, _ = drop_test_overlap(rows, [s for pairs in load_buckets().values() for _, s in pairs])
    return PuzzleSource([(r["puzzle"], r["solution"]) for r in rows])


def _recipe(latent_dim: int, data: SudokuData | None = None, **train) -> Recipe:
    base = dict(steps=2500, batch_size=128, lr=1e-3, min_lr_ratio=0.05, warmup_steps=100,
                t_min=T_MIN, t_max=T_MAX, checkpoint_every=50, eval_every=250, log_every=25)
    return Recipe(task="sudoku", model=sudoku_model_config(latent_dim=latent_dim),
                  train=TrainConfig(**{**base, **train}),
                  sampler=SamplerConfig(nfe=10, order="top-prob-margin"),
                  data=asdict(data or SudokuData()))


RECIPES = {
    "mdm": _recipe(0),
    # The KL is annealed in over the first 40%, and each latent dimension may carry 0.2 nats
    # for free: without that floor the latent collapsed onto the prior (KL ~ 0) within 250 steps.
    "vmd": _recipe(32, kl_warmup_steps=1000, free_bits=0.2),
    # Puzzle states: real puzzles with a random share of their blanks revealed (t ~ U(0.4, 1) of
    # the blanks stay masked; t = 1 is the bare puzzle), givens as conditioning.
    "mdm-pool": _recipe(0, SudokuData(source="pool"), t_min=0.4, t_max=1.0),
}


Board = tuple[int, ...]


def validation_puzzles(count: int, cache: Path | None = None) -> list[tuple[Board, Board]]:
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


def validation_metrics(model: MaskedDiffusionModel, pairs, sampler: SamplerConfig) -> dict:
    """Whole-board accuracy with `sampler` (its nfe and order) and the share of blank cells
    that one denoiser call gets right from the bare puzzle."""
    puzzles = [p for p, _ in pairs]
    solutions = torch.tensor([s for _, s in pairs]) - 1
    result = solve_puzzles(model, puzzles, nfe=sampler.nfe, order=sampler.order,
                           temperature=sampler.temperature,
                           generator=torch.Generator().manual_seed(0))
    solved = sum(tuple(b) == tuple(s) for b, (_, s) in zip(result.boards, pairs))
    x = board_to_tokens(puzzles)
    blank = x == model.config.mask_id
    layout = model.sampling_layout(x)
    z = None
    if model.config.is_vmd:
        z = model.prior(layout).sample(torch.Generator().manual_seed(0))
    logits = model.logits(layout, None, z)[..., :model.config.vocab_size]
    cells = (logits.argmax(-1) == solutions)[blank].float().mean()
    return {f"solved@{sampler.nfe}": solved / len(pairs), "cell_acc@1": float(cells)}


def run_recipe(recipe: Recipe, out_dir: str | Path, resume: bool = True,
               progress: bool = True) -> dict:
    """Train a Sudoku recipe; checkpoints in out_dir/checkpoint, the final model in
    out_dir/model with the recipe and its training record (hardware, wall time, steps, samples)
    in the saved model's metadata. Returns the record."""
    if recipe.model.vocab_size != 9 or recipe.model.seq_len != 81:
        raise ValueError("a Sudoku recipe needs model.vocab_size 9 and model.seq_len 81")
    data = config_section(SudokuData, recipe.data, "data")
    sampler = recipe.sampler or SamplerConfig(nfe=10)
    config = replace(recipe.train, progress=progress)
    out = Path(out_dir)
    torch.manual_seed(config.seed)
    model = MaskedDiffusionModel(recipe.model)
    source = _source(data, config.seed)
    pairs = validation_puzzles(data.validation_size, out / "validation.csv")
    result = train(model, source, config, out_dir=out, resume=resume,
                   description=f"sudoku {recipe.model.method_name}",
                   evaluate=lambda m: validation_metrics(m, pairs, sampler))
    record = {"kind": recipe.model.method_name, "hardware": hardware_description(),
              "wall_seconds": round(result.seconds, 1), "steps": result.steps,
              "samples_seen": result.samples_seen, "train_config": asdict(config),
              "num_parameters": result.model.num_parameters(),
              "final_eval": next((h["eval"] for h in reversed(result.history) if "eval" in h), None)}
    save_model(result.model, out / "model", extra={"training": record, "recipe": recipe.to_dict()})
    return record


def train_sudoku(kind: str, out_dir: str | Path, *, steps: int | None = None,
                 resume: bool = True, progress: bool = True, seed: int = 0,
                 recipe: Recipe | None = None) -> tuple[MaskedDiffusionModel, dict]:
    """Train the named recipe ("mdm" or "vmd"; or `recipe` itself when given), optionally
    shortened to `steps`; returns the trained model (as saved in out_dir/model) and its record."""
    from maskdiff.models import load_model

    if recipe is None:
        if kind not in RECIPES:
            raise ValueError(f"unknown Sudoku model kind {kind!r}; choose one of {sorted(RECIPES)}")
        recipe = RECIPES[kind]
    if steps is not None:
        recipe = recipe.shortened(steps)
    recipe = replace(recipe, train=replace(recipe.train, seed=seed))
    record = run_recipe(recipe, out_dir, resume=resume, progress=progress)
    return load_model(Path(out_dir) / "model"), record
