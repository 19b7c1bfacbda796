"""`maskdiff sudoku ...`: train, solve, bench and demo.

    maskdiff sudoku train --model {mdm,vmd} --out DIR [--steps N] [--ship]
    maskdiff sudoku solve PUZZLE | --file FILE [--model {mdm,vmd,PATH}] [--nfe N] [--order ...]
                          [--best-of K] [--threshold P] [--remask confidence] [--constrained]
                          [--pretty]
    maskdiff sudoku bench [--models mdm vmd] [--per-bucket N] [--decodings ...] [--out DIR]
    maskdiff sudoku pool [--count 50000] [--workers 2] [--out FILE]
    maskdiff sudoku demo [--per-bucket N] [--nfe N]
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from maskdiff.commandline import (
    ADAPTIVE,
    add_sampler_arguments,
    add_threads_argument,
    apply_threads,
    require_positive,
)

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    su = subparsers.add_parser("sudoku", help="train, solve and benchmark Sudoku models")
    sub = su.add_subparsers(dest="action", required=True)

    tr = sub.add_parser("train", help="train a Sudoku model by a named recipe")
    from .train import RECIPES

    tr.add_argument("--model", choices=list(RECIPES), required=True,
                    help="which named recipe (mdm-pool trains on the puzzle pool)")
    tr.add_argument("--out", type=Path, required=True,
                    help="run folder: checkpoints (resumed if present) and the final model")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override recipe fields, e.g. train.batch_size=256 data.pool_size=1000")
    add_threads_argument(tr)
    tr.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    tr.add_argument("--ship", action="store_true",
                    help="also install the final model as the default for `sudoku solve`")
    tr.set_defaults(handler=_train)

    so = sub.add_parser(
        "solve", help="solve puzzles with a Sudoku model",
        description="Prints one line per puzzle: the completed board (81 characters), 'valid' or "
                    "'INVALID' (every row, column and box holds 1-9 and every given is kept), and "
                    "the denoiser calls used; contradictory puzzles are named as such.",
        epilog="exit status: 0 every board valid, 1 an invalid board or a contradictory puzzle, "
               "2 bad input")
    so.add_argument("puzzle", nargs="?", default=None,
                    help="81 characters, digits with '.' or '0' for blanks")
    so.add_argument("--file", type=Path, default=None,
                    help="one puzzle per line (a test-set CSV works too); '-' reads stdin")
    so.add_argument("--model", default="mdm",
                    help="'mdm' or 'vmd' (the shipped models) or a model folder (default mdm)")
    so.add_argument("--nfe", type=int, default=20,
                    help="denoiser calls per puzzle (default 20; capped at the number of blanks)")
    add_sampler_arguments(so, "order", *ADAPTIVE)
    so.add_argument("--constrained", action="store_true",
                    help="forbid, at every call, the digits already among a cell's peers (its own "
                         "protocol: not the network's accuracy alone)")
    so.add_argument("--best-of", type=int, default=1,
                    help="K trajectories per puzzle with different latents/noise; keep a valid one")
    so.add_argument("--pretty", action="store_true", help="also print each board as a grid")
    so.add_argument("--seed", type=int, default=0)
    so.add_argument("--batch-size", type=int, default=256, help="trajectories per denoiser call")
    so.set_defaults(handler=_solve)

    from maskdiff.results import add_benchmark_command

    from .benchmark import BENCHMARK

    add_benchmark_command(sub.add_parser("bench", help="accuracy against NFE on the committed test sets",
                                         description=BENCHMARK.description), BENCHMARK)

    po = sub.add_parser("pool", help="make (or resume) the training pool of rated puzzles",
                        description="Puzzles from their own stream (seed 2), rated, written in "
                                    "order; then checked against the test sets up to symmetry.")
    po.add_argument("--count", type=int, default=50_000, help="puzzles (default 50,000)")
    po.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    po.add_argument("--out", type=Path, default=None,
                    help="pool file (default: $MASKDIFF_HOME/sudoku/pool.csv)")
    po.set_defaults(handler=_pool)

    de = sub.add_parser("demo", help="solve a few puzzles on screen and score the shipped models")
    de.add_argument("--per-bucket", type=int, default=100,
                    help="puzzles per bucket for the accuracy table (default 100)")
    de.add_argument("--nfe", type=int, default=20, help="denoiser calls per puzzle (default 20)")
    de.add_argument("--seed", type=int, default=0)
    de.set_defaults(handler=_demo)


def _train(args) -> int:
    from maskdiff.recipe import Recipe, apply_overrides, parse_overrides

    from .model import SHIPPED, SHIPPED_DIR
    from .train import RECIPES, train_sudoku

    apply_threads(args)
    require_positive(steps=args.steps)
    if args.ship and args.model not in SHIPPED:
        raise ValueError(f"--ship installs one of the shipped models {SHIPPED}; "
                         f"{args.model!r} is not one")
    recipe = RECIPES[args.model]
    if args.set:
        recipe = Recipe.from_dict(apply_overrides(recipe.to_dict(), parse_overrides(args.set)))
    _, record = train_sudoku(args.model, args.out, steps=args.steps, resume=not args.no_resume,
                             seed=args.seed, recipe=recipe)
    print(f"trained Sudoku {args.model}: {record['steps']} steps, {record['samples_seen']} samples "
          f"in {record['wall_seconds'] / 60:.1f} min on {record['hardware']}; "
          f"validation {record['final_eval']}; model in {args.out / 'model'}")
    if args.ship:
        target = SHIPPED_DIR / args.model
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.out / "model", target)
        print(f"installed as the default {args.model} model: {target}")
    return 0


def read_puzzles(puzzle: str | None, file: Path | None) -> list[tuple[str, str]]:
    """(where, text) for the puzzle given on the command line or every puzzle in `file`."""
    if (puzzle is None) == (file is None):
        raise ValueError("give one PUZZLE or --file FILE (one puzzle per line)")
    if puzzle is not None:
        return [("puzzle", puzzle)]
    if str(file) == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        if not file.is_file():
            raise FileNotFoundError(f"no puzzle file at {file}")
        lines, name = file.read_text().splitlines(), str(file)
    found = []
    for n, line in enumerate(lines, start=1):
        text = line.split(",")[0].strip()  # test-set CSV lines: the puzzle is the first field
        if text and not text.startswith("#") and text != "puzzle":
            found.append((f"{name}, line {n}", text))
    if not found:
        raise ValueError(f"{name} holds no puzzles")
    return found


def _solve(args) -> int:
    import torch

    from maskdiff.sampling import SamplerConfig

    from .board import PuzzleError, count_solutions, find_conflict, format_board, parse_board, pretty_board
    from .model import load_sudoku_model
    from .solve import solve_puzzles

    require_positive(best_of=args.best_of, nfe=args.nfe, batch_size=args.batch_size)
    order = args.order or SamplerConfig().order
    puzzles = []
    for where, text in read_puzzles(args.puzzle, args.file):
        try:
            puzzles.append((where, parse_board(text, check=False)))
        except PuzzleError as err:
            raise ValueError(f"{where}: {err}") from None
    model = load_sudoku_model(args.model)

    # Contradictions are found by the exact solver before any denoiser call.
    contradiction, several = {}, 0
    for i, (_, board) in enumerate(puzzles):
        conflict = find_conflict(board)
        count = 0 if conflict is not None else count_solutions(board, limit=2)
        if count == 0:
            contradiction[i] = conflict or "no completion satisfies every row, column and box"
        several += count > 1
    todo = [i for i in range(len(puzzles)) if i not in contradiction]
    t0 = time.perf_counter()
    decoding = {name: getattr(args, name) for name in ADAPTIVE if getattr(args, name) is not None}
    SamplerConfig(order=order, **decoding)  # bad values are named before any work
    result = solve_puzzles(model, [puzzles[i][1] for i in todo], nfe=args.nfe, order=order,
                           best_of=args.best_of, batch_size=args.batch_size,
                           generator=torch.Generator().manual_seed(args.seed),
                           constrained=args.constrained, **decoding)
    seconds = time.perf_counter() - t0
    solved = {i: (result.boards[j], result.valid[j], result.nfe[j]) for j, i in enumerate(todo)}

    for i, (_, board) in enumerate(puzzles):
        if i in contradiction:
            print(f"{format_board(board)}  contradictory: {contradiction[i]}")
            continue
        done, valid, nfe = solved[i]
        print(f"{format_board(done)}  {'valid' if valid else 'INVALID'}  nfe={nfe}")
        if args.pretty:
            print(pretty_board(done) + "\n")
    n_valid = sum(v for _, v, _ in solved.values())
    if several:
        print(f"{several} puzzle(s) have several solutions; each got one completion",
              file=sys.stderr)
    mean_nfe = sum(result.nfe) / len(result.nfe) if result.nfe else 0.0
    histogram = dict(sorted(Counter(result.nfe).items()))
    options = "".join(f", {name.replace('_', '-')} {value}" for name, value in decoding.items())
    options += ", constrained" if args.constrained else ""
    print(f"{n_valid}/{len(puzzles)} valid, {len(contradiction)} contradictory; "
          f"model {args.model}, {order}, NFE <= {args.nfe} (used: mean {mean_nfe:.2f}, "
          f"histogram {histogram}){options}, "
          f"best-of {args.best_of}; {seconds:.2f}s", file=sys.stderr)
    return 0 if n_valid == len(puzzles) else 1


def _pool(args) -> int:
    from collections import Counter

    from .benchmark import load_buckets
    from .pool import build_pool, default_pool_path, drop_test_overlap, load_pool

    require_positive(count=args.count, workers=args.workers)
    path = args.out or default_pool_path()
    t0 = time.perf_counter()
    build_pool(path, args.count, workers=args.workers)
    rows = load_pool(path, args.count)
    tests = [s for pairs in load_buckets().values() for _, s in pairs]
    kept, dropped = drop_test_overlap(rows, tests)
    buckets = Counter(r["bucket"] for r in kept)
    print(f"{path}: {len(kept):,} puzzles ({', '.join(f'{b} {n:,}' for b, n in sorted(buckets.items()))}); "
          f"{dropped} dropped as possible symmetric images of the {len(tests):,} test puzzles; "
          f"{time.perf_counter() - t0:.0f}s")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    require_positive(per_bucket=args.per_bucket, nfe=args.nfe)
    return run_demo(args.per_bucket, args.nfe, args.seed)


def train_from_recipe(recipe, out_dir, resume: bool = True) -> int:
    """The task's hook for `maskdiff train --config`."""
    from .train import run_recipe

    record = run_recipe(recipe, out_dir, resume=resume)
    print(f"trained Sudoku {record['kind']}: {record['steps']} steps, {record['samples_seen']} "
          f"samples in {record['wall_seconds'] / 60:.1f} min; validation {record['final_eval']}; "
          f"model in {out_dir}/model")
    return 0
