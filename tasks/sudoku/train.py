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

import functools
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from maskdiff import Batch, MaskedDiffusionModel, SamplerConfig, TrainConfig, save_model
from maskdiff.hardware import hardware_description
from maskdiff.recipe import Recipe, config_section
from maskdiff.training import train

from .board import parse_board
from .generate import augment, fill_rounds, random_grid, rate
from .model import MASK_ID, board_to_tokens, sudoku_model_config
from .solve import solve_puzzles
from .testsets import load_test_set, make_indexed_puzzle, write_test_set

__all__ = ["RECIPES", "SudokuData", "GridSource", "PuzzleSource", "run_recipe", "train_sudoku",
           "validation_puzzles", "recipe_validation", "validation_metrics", "near_complete_states",
           "near_complete_accuracy", "T_MIN", "T_MAX"]

VALIDATION_SEED = 1
T_MIN, T_MAX = 0.3, 0.85


SOURCES = ("grids", "pool")
REVEALS = ("bare", "solver", "random")
VALIDATIONS = ("stream", "pool")


@dataclass
class SudokuData:
    """The recipe's `data` section.

    source "grids": complete grids from `num_base_grids` random base grids (every cell maskable,
    masked by the trainer's forward process); "pool": (puzzle, solution) pairs of the training
    pool (`maskdiff sudoku pool`; its first `pool_size` puzzles, read from `pool`, default the
    data home's), givens as conditioning.
    reveal (pool only): None lets the trainer's forward process mask the blanks (t in
    [train.t_min, train.t_max]); otherwise the share of training states of each kind: "bare"
    (every blank masked), "solver" (a uniform number of blanks revealed in a parallel solver's
    fill order, shuffled within a round) and "random" (each blank masked with probability
    t ~ U(random_mask)).
    rounds_workers: with solver reveals, compute every puzzle's fill rounds up front on that
    many processes (0: lazily, on each puzzle's first draw; about 6 ms a puzzle).
    validation: "stream" (`validation_size` puzzles of the seed-1 stream) or "pool" (the pool's
    `validation_size` puzzles after the training ones); solved at each of `validation_nfes`
    (None: the recipe sampler's nfe)."""

    source: str = "grids"
    num_base_grids: int = 3000
    pool: str | None = None
    pool_size: int = 50_000
    reveal: dict[str, float] | None = None
    random_mask: list[float] = field(default_factory=lambda: [0.4, 1.0])
    rounds_workers: int = 0
    validation: str = "stream"
    validation_size: int = 64
    validation_nfes: list[int] | None = None

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"data.source must be one of {SOURCES}, got {self.source!r}")
        if self.validation not in VALIDATIONS:
            raise ValueError(f"data.validation must be one of {VALIDATIONS}, got {self.validation!r}")
        for name in ("num_base_grids", "pool_size", "validation_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"data.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.reveal is not None:
            self._check_reveal()
        if not isinstance(self.rounds_workers, int) or self.rounds_workers < 0:
            raise ValueError(f"data.rounds_workers must be an integer >= 0, got {self.rounds_workers!r}")
        low, high = self.random_mask if len(self.random_mask) == 2 else (0, 0)
        if not 0 < low <= high <= 1:
            raise ValueError(f"data.random_mask must be [low, high] with 0 < low <= high <= 1, "
                             f"got {self.random_mask!r}")
        self.random_mask = [float(low), float(high)]
        nfes = self.validation_nfes
        if nfes is not None and (not nfes or any(not isinstance(n, int) or n < 1 for n in nfes)):
            raise ValueError(f"data.validation_nfes must be a list of integers >= 1, got {nfes!r}")

    def _check_reveal(self) -> None:
        if self.source != "pool":
            raise ValueError("data.reveal needs data.source 'pool' (grids have no puzzle to reveal)")
        if not isinstance(self.reveal, dict) or set(self.reveal) - set(REVEALS):
            raise ValueError(f"data.reveal must map some of {REVEALS} to shares, got {self.reveal!r}")
        shares = list(self.reveal.values())
        if any(not isinstance(v, (int, float)) or v < 0 for v in shares) or not sum(shares) > 0:
            raise ValueError(f"data.reveal shares must be >= 0 and not all 0, got {self.reveal!r}")


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
    are maskable (givens are conditioning: never masked, never scored). Each draw is freshly
    augmented: the same symmetry and relabelling on puzzle and solution.

    reveal None: the trainer's forward process masks a random share of the blanks. Otherwise the
    source chooses each state itself (`Batch.masked`), of the kinds in `SudokuData.reveal`.
    Everything is drawn with tensor operations from the trainer's generator (a batch of 1,024
    takes milliseconds); a solver's fill rounds are computed once per pool puzzle, on first use."""

    def __init__(self, pairs: list[tuple[tuple[int, ...], tuple[int, ...]]],
                 reveal: dict[str, float] | None = None,
                 random_mask: tuple[float, float] = (0.4, 1.0)):
        if not pairs:
            raise ValueError("the puzzle pool is empty")
        self.pairs, self.random_mask = pairs, random_mask
        self.puzzles = torch.tensor([p for p, _ in pairs], dtype=torch.long)
        self.solutions = torch.tensor([s for _, s in pairs], dtype=torch.long)
        self.rounds = torch.full_like(self.puzzles, -1)  # -1: not computed yet
        self.kinds, self.shares = None, None
        if reveal is not None:
            self.kinds = [k for k in REVEALS if reveal.get(k, 0) > 0]
            self.shares = torch.tensor([float(reveal[k]) for k in self.kinds])

    def fill_rounds(self, index: torch.Tensor) -> torch.Tensor:
        """The solver's fill rounds (len(index), 81) of pool puzzles `index`."""
        for i in index[self.rounds[index, 0] < 0].unique().tolist():
            self.rounds[i] = torch.tensor(fill_rounds(*self.pairs[i]))
        return self.rounds[index]

    def precompute_rounds(self, workers: int) -> None:
        """Compute every puzzle's fill rounds now, on `workers` processes (a GPU run's data must
        not wait on a Python solver)."""
        todo = (self.rounds[:, 0] < 0).nonzero()[:, 0].tolist()
        with ProcessPoolExecutor(workers) as pool:
            done = pool.map(fill_rounds, [self.pairs[i][0] for i in todo],
                            [self.pairs[i][1] for i in todo], chunksize=256)
            for i, rounds in zip(todo, done):
                self.rounds[i] = torch.tensor(rounds)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        g = generator
        index = torch.randint(len(self.pairs), (batch_size,), generator=g)
        cells, digits = _random_symmetries(batch_size, g)
        puzzles = digits.gather(1, self.puzzles[index].gather(1, cells))
        solutions = digits.gather(1, self.solutions[index].gather(1, cells))
        blanks = puzzles == 0
        masked = None
        if self.kinds is not None:
            kind = torch.multinomial(self.shares, batch_size, replacement=True, generator=g)
            masked = blanks.clone()  # "bare" rows stay so
            for k, name in enumerate(self.kinds):
                rows = kind == k
                if name == "random" and rows.any():
                    masked[rows] = self._random_states(blanks[rows], g)
                elif name == "solver" and rows.any():
                    rounds = self.fill_rounds(index[rows]).gather(1, cells[rows])
                    masked[rows] = _solver_states(blanks[rows], rounds, g)
        return Batch(board_to_tokens(solutions), blanks, masked)

    def _random_states(self, blanks: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Each blank masked with probability t ~ U(random_mask), per row; never none."""
        low, high = self.random_mask
        t = low + (high - low) * torch.rand(len(blanks), 1, generator=g)
        masked = blanks & (torch.rand(blanks.shape, generator=g) < t)
        empty = ~masked.any(-1)
        if empty.any():  # mask one random blank of a row that drew none
            pick = (torch.rand(blanks.shape, generator=g) * blanks)[empty].argmax(-1)
            masked[empty.nonzero()[:, 0], pick] = True
        return masked


def _random_symmetries(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n random validity-preserving symmetries (as `generate.random_symmetry`): the source cell
    of each cell (n, 81) and the digit relabelling (n, 10), with 0 (blank) kept."""
    def lines() -> torch.Tensor:  # (n, 9): lines permuted within bands, bands permuted
        bands = torch.rand(n, 3, generator=g).argsort(-1)
        within = torch.rand(n, 3, 3, generator=g).argsort(-1)
        return (3 * bands[:, :, None] + within).reshape(n, 9)

    rows, cols = lines(), lines()
    transpose = torch.rand(n, 1, 1, generator=g) < 0.5
    r, c = rows[:, :, None].expand(n, 9, 9), cols[:, None, :].expand(n, 9, 9)
    cells = torch.where(transpose, 9 * c + r, 9 * r + c).reshape(n, 81)
    digits = torch.cat([torch.zeros(n, 1, dtype=torch.long),
                        torch.rand(n, 9, generator=g).argsort(-1) + 1], dim=1)
    return cells, digits


def _solver_states(blanks: torch.Tensor, rounds: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Blanks revealed in fill-round order (shuffled within a round), a uniform number of them
    (0 to all but one), per row: the masked cells are the ones the solver fills last."""
    key = torch.where(blanks, rounds + torch.rand(rounds.shape, generator=g), torch.full_like(
        rounds, -1, dtype=torch.float))
    position = key.argsort(-1).argsort(-1)  # givens first, then blanks in solver order
    givens = (~blanks).sum(-1, keepdim=True)
    count = blanks.sum(-1, keepdim=True)
    revealed = (torch.rand(len(blanks), 1, generator=g) * count).floor().long()
    return blanks & (position - givens >= revealed)


def _pool_rows(data: SudokuData, count: int) -> list[dict]:
    """The first `count` rows of the recipe's pool, with a message naming the command that
    makes (or completes) it."""
    from .pool import default_pool_path, load_pool

    path = Path(data.pool) if data.pool else default_pool_path()
    if not path.is_file():
        raise FileNotFoundError(f"no puzzle pool at {path}; make it with `maskdiff sudoku pool "
                                f"--count {count}`")
    rows = load_pool(path, count)
    if len(rows) < count:
        raise ValueError(f"{path} holds {len(rows):,} puzzles, the recipe asks for "
                         f"{count:,}; resume it with `maskdiff sudoku pool --count {count}`")
    return rows


def _source(data: SudokuData, seed: int):
    if data.source == "grids":
        return GridSource(data.num_base_grids, seed=seed)
    from .benchmark import load_buckets
    from .pool import drop_test_overlap

    rows = _pool_rows(data, data.pool_size)
    rows, _ = drop_test_overlap(rows, [s for pairs in load_buckets().values() for _, s in pairs])
    source = PuzzleSource([(r["puzzle"], r["solution"]) for r in rows], data.reveal,
                          data.random_mask)
    if data.rounds_workers and "solver" in (source.kinds or []):
        source.precompute_rounds(data.rounds_workers)
    return source


def _recipe(latent_dim: int, data: SudokuData | None = None, **train) -> Recipe:
    base = dict(steps=2500, batch_size=128, lr=1e-3, min_lr_ratio=0.05, warmup_steps=100,
                t_min=T_MIN, t_max=T_MAX, checkpoint_every=50, eval_every=250, log_every=25)
    return Recipe(task="sudoku", model=sudoku_model_config(latent_dim=latent_dim),
                  train=TrainConfig(**{**base, **train}),
                  sampler=SamplerConfig(nfe=10, order="top-prob-margin"),
                  data=asdict(data or SudokuData()))


# The puzzle-state recipes: the pool's first TRAIN_POOL puzzles train, the next VALIDATION_POOL
# validate (all three ratings); training states and loss weighting as chosen by the recipe
# ablation (benchmarks/sudoku_recipes.py, docs/results/sudoku_recipes.md).
TRAIN_POOL, VALIDATION_POOL = 49_000, 200
# At 64k samples puzzle states beat complete grids by 7-13 points; the reveal mixtures and the two
# weightings were within each other's 95% intervals, and random reveals with the per-cell mean had
# the best point estimates at NFE 5 and 10.
POOL_REVEAL = {"random": 1.0}
POOL_WEIGHTING = "per-cell"


def _pool_recipe(latent_dim: int, steps: int, gpu: bool = False,
                 data_overrides: dict | None = None, **train) -> Recipe:
    """A puzzle-pool recipe; data_overrides replace fields of its `SudokuData`."""
    data = SudokuData(**{**dict(source="pool", pool_size=TRAIN_POOL, reveal=POOL_REVEAL,
                                validation="pool", validation_size=VALIDATION_POOL,
                                validation_nfes=[5, 10, 20], rounds_workers=16 if gpu else 0),
                         **(data_overrides or {})})
    cpu = dict(steps=steps, loss_weighting=POOL_WEIGHTING, eval_every=500, checkpoint_every=50)
    if gpu:  # one H100/H200: bf16, a large batch, a few minutes
        cpu.update(batch_size=1024, lr=2e-3, warmup_steps=200, mixed_precision="bf16",
                   eval_every=1000, checkpoint_every=250)
    return _recipe(latent_dim, data, **{**cpu, **train})


RECIPES = {
    "mdm": _recipe(0),
    # The KL is annealed in over the first 40%, and each latent dimension may carry 0.2 nats
    # for free: without that floor the latent collapsed onto the prior (KL ~ 0) within 250 steps.
    "vmd": _recipe(32, kl_warmup_steps=1000, free_bits=0.2),
    # Puzzle states (givens as conditioning), 8,000 steps x 128 = 1.02M samples: hours of one CPU
    # thread, resumable (maskdiff sudoku train --model mdm-pool --out runs/sudoku-mdm-pool).
    "mdm-pool": _pool_recipe(0, 8000),
    # Its random reveals reach nearly complete boards (down to about one blank in fifty masked):
    # trained on 40-100% masked blanks like the MDM, the VMD got 31-37% of single last blanks
    # right at step 6,300 (the MDM 100%), so decodings of many calls failed in their last ones.
    # 300 more steps on 2-100% took that to 100%, on 40-100% to 45-49%
    # (benchmarks/results/explorations/sudoku_near_complete.jsonl).
    "vmd-pool": _pool_recipe(32, 8000, data_overrides={"random_mask": [0.02, 1.0]},
                             kl_warmup_steps=3200, free_bits=0.2),
    # The GPU form: 5,000 steps x 1,024 = 5.1M samples, sized for about 4 minutes of one H100.
    "mdm-pool-gpu": _pool_recipe(0, 5000, gpu=True),
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


def recipe_validation(data: SudokuData, cache: Path | None = None) -> list[tuple[Board, Board]]:
    """The recipe's validation puzzles: the seed-1 stream, or the pool's puzzles after the
    training ones (never trained on)."""
    if data.validation == "stream":
        return validation_puzzles(data.validation_size, cache)
    rows = _pool_rows(data, data.pool_size + data.validation_size)[data.pool_size:]
    return [(r["puzzle"], r["solution"]) for r in rows]


@functools.cache
def _needs_no_guessing(puzzle: tuple) -> bool:
    """Whether the puzzle is strategy-solvable; cached, as the same validation puzzles are rated
    at every evaluation of a run (about 4 ms a puzzle)."""
    return rate(puzzle) != "guessing"


def near_complete_states(pairs, left: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each (puzzle, solution) with all but `left` of its blanks filled with the true digits (the
    ones left drawn at random, seeded): (states, solutions), token ids (N, 81). Decodings of many
    calls end in such states, which a training stream of heavily masked boards may never show.
    left None: every blank left (the bare puzzles)."""
    solutions = board_to_tokens([s for _, s in pairs])
    if left is None:
        return board_to_tokens([p for p, _ in pairs]), solutions
    if left < 1:
        raise ValueError(f"left must be at least 1 blank, got {left}")
    gen = torch.Generator().manual_seed(seed)
    states = solutions.clone()
    for i, (puzzle, _) in enumerate(pairs):
        blanks = torch.tensor([c for c, v in enumerate(puzzle) if v == 0], dtype=torch.long)
        if len(blanks) < left:
            raise ValueError(f"puzzle {i} has {len(blanks)} blanks, fewer than left={left}")
        states[i, blanks[torch.randperm(len(blanks), generator=gen)[:left]]] = MASK_ID
    return states, solutions


@torch.no_grad()
def near_complete_accuracy(model: MaskedDiffusionModel, pairs, left: int | None = 1, seed: int = 0,
                           latent: str = "prior") -> float:
    """The share of the cells left that one argmax call gets right on `near_complete_states`
    (left None: from the bare puzzles); z from
    the prior (the sampler's), "zero" or "posterior" (q(z | solution, state)) for a VMD."""
    if latent not in ("prior", "zero", "posterior"):
        raise ValueError(f"latent must be 'prior', 'zero' or 'posterior', got {latent!r}")
    device = next(model.parameters()).device
    states, solutions = (x.to(device) for x in near_complete_states(pairs, left, seed))
    gen = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on any device
    layout = model.sampling_layout(states)
    z = None
    if model.config.is_vmd:
        if latent == "posterior":
            z = model.sample_posterior(solutions, states == MASK_ID, gen)
        else:
            z = model.sample_prior(layout, gen)
            z = torch.zeros_like(z) if latent == "zero" else z
    guess = model.logits(layout, None, z)[..., :model.config.vocab_size].argmax(-1)
    return float((guess == solutions)[states == MASK_ID].float().mean())


def validation_metrics(model: MaskedDiffusionModel, pairs, sampler: SamplerConfig,
                       nfes: list[int] | None = None) -> dict:
    """Whole-board accuracy at each of `nfes` (default: the sampler's nfe) with the sampler's
    order, overall ("solved@N") and on the strategy-solvable puzzles ("solvable@N", those that
    need no guessing); and the share of blank cells that one denoiser call gets right from the
    bare puzzle ("cell_acc@1"), or from the solved board less one blank ("last_blank@1")."""
    puzzles = [p for p, _ in pairs]
    solvable = [_needs_no_guessing(tuple(p)) for p in puzzles]
    metrics = {}
    for nfe in nfes or [sampler.nfe]:
        result = solve_puzzles(model, puzzles, nfe=nfe, order=sampler.order,
                               temperature=sampler.temperature,
                               generator=torch.Generator().manual_seed(0))
        right = [tuple(b) == tuple(s) for b, (_, s) in zip(result.boards, pairs)]
        metrics[f"solved@{nfe}"] = sum(right) / len(pairs)
        if any(solvable):
            metrics[f"solvable@{nfe}"] = sum(r for r, ok in zip(right, solvable) if ok) / sum(solvable)
    return {**metrics, "cell_acc@1": near_complete_accuracy(model, pairs, left=None),
            "last_blank@1": near_complete_accuracy(model, pairs, left=1)}


def validation_curve(result) -> list[dict]:
    """Every validation evaluation of a run, resumed stretches included, with the training samples
    seen when it was taken: the learning curve the saved model carries."""
    per_step = result.samples_seen / result.steps if result.steps else 0
    return [{"step": h["step"], "samples": round(h["step"] * per_step), **h["eval"]}
            for h in result.history if "eval" in h]


def run_recipe(recipe: Recipe, out_dir: str | Path, resume: bool = True,
               progress: bool = True, name: str | None = None) -> dict:
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
    pairs = recipe_validation(data, out / "validation.csv")
    # What must not change when the run resumes: the training data (validation may).
    identity = {k: v for k, v in asdict(data).items()
                if not k.startswith("validation") and k != "rounds_workers"}
    result = train(model, source, config, out_dir=out, resume=resume, identity=identity,
                   description=f"sudoku {recipe.model.method_name}",
                   evaluate=lambda m: validation_metrics(m, pairs, sampler, data.validation_nfes))
    record = {"kind": recipe.model.method_name, "recipe_name": name,
              "hardware": hardware_description(),
              "wall_seconds": round(result.seconds, 1), "steps": result.steps,
              "samples_seen": result.samples_seen, "train_config": asdict(config),
              "num_parameters": result.model.num_parameters(),
              "final_eval": next((h["eval"] for h in reversed(result.history) if "eval" in h), None),
              "validation_curve": validation_curve(result)}
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
    record = run_recipe(recipe, out_dir, resume=resume, progress=progress, name=kind)
    return load_model(Path(out_dir) / "model"), record


def latent_batch(recipe: dict, count: int, seed: int = 0):
    """`count` committed test puzzles (a third from each rating, in file order) as (solutions
    (count, 81) tokens, blanks (count, 81)): the states `maskdiff latent` diagnoses."""
    from .benchmark import load_buckets

    buckets = load_buckets(-(-count // 3))
    pairs = [pair for bucket in buckets.values() for pair in bucket][:count]
    solutions = board_to_tokens([s for _, s in pairs])
    return solutions, torch.tensor([p for p, _ in pairs]) == 0
