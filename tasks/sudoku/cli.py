"""`maskdiff sudoku ...`: train, solve, bench and demo.

    maskdiff sudoku train --model {mdm,vmd,mdm-pool,vmd-pool,...} --out DIR [--steps N] [--ship]
    maskdiff sudoku solve PUZZLE | --file FILE [--model {mdm,vmd,PATH}] [--nfe N] [--order ...]
                          [--best-of K] [--threshold P] [--remask confidence] [--constrained]
                          [--fallback K] [--pretty] [--no-progress]
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
    from .solve import FALLBACK_BEST_OF
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
        description="Prints one line per puzzle, as each batch is done: the completed board (81 "
                    "characters), 'valid' or 'INVALID' (every row, column and box holds 1-9 and "
                    "every given is kept), and the denoiser calls used; contradictory puzzles are "
                    "named as such. A board that comes out invalid is decoded again (--fallback); "
                    "its line then says '(fallback: ...)' and its calls read nfe=FIRST+FALLBACK.",
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
    so.add_argument("--batch-size", type=int, default=256,
                    help="trajectories per denoiser call; puzzles are solved and printed "
                         "batch-size / best-of at a time (default 256)")
    so.add_argument("--fallback", type=int, default=FALLBACK_BEST_OF, metavar="K",
                    help="decode a board that comes out invalid again, with the peer constraint, "
                         f"one cell per call, best of K trajectories (default {FALLBACK_BEST_OF}; "
                         "0: off)")
    so.add_argument("--no-progress", action="store_true",
                    help="no progress bar on stderr (there is none when stderr is not a terminal)")
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
    shipped_as = shipped_name(args.model)
    if args.ship and shipped_as not in SHIPPED:
        raise ValueError(f"--ship installs one of the shipped models {SHIPPED} (from the "
                         f"recipes mdm, mdm-pool, vmd or vmd-pool); {args.model!r} is not one")
    recipe = RECIPES[args.model]
    if args.set:
        recipe = Recipe.from_dict(apply_overrides(recipe.to_dict(), parse_overrides(args.set)))
    _, record = train_sudoku(args.model, args.out, steps=args.steps, resume=not args.no_resume,
                             seed=args.seed, recipe=recipe)
    print(f"trained Sudoku {args.model}: {record['steps']} steps, {record['samples_seen']} samples "
          f"in {record['wall_seconds'] / 60:.1f} min on {record['hardware']}; "
          f"validation {record['final_eval']}; model in {args.out / 'model'}")
    if args.ship:
        target = SHIPPED_DIR / shipped_as
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.out / "model", target)
        print(f"installed as the default {shipped_as} model: {target}")
    return 0


def shipped_name(recipe: str) -> str:
    """The shipped model a recipe's result installs as with --ship: its kind ("mdm-pool" -> "mdm",
    "mdm-pool-gpu" -> "mdm")."""
    return recipe.split("-")[0]


def read_puzzles(puzzle: str | None, file: Path | None) -> list[tuple[str, str]]:
    """(where, text) for the puzzle given on the command line or every puzzle in `file`."""
    from .board import read_puzzle_lines

    if (puzzle is None) == (file is None):
        raise ValueError("give one PUZZLE or --file FILE (one puzzle per line)")
    if puzzle is not None:
        return [("puzzle", puzzle)]
    if str(file) == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        lines, name = read_puzzle_lines(file), str(file)
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
    from tqdm.auto import tqdm

    from maskdiff.sampling import SamplerConfig

    from .model import load_sudoku_model
    from .solve import solve_in_chunks

    require_positive(best_of=args.best_of, nfe=args.nfe, batch_size=args.batch_size)
    if args.fallback < 0:
        raise ValueError(f"--fallback must be >= 0 (0 turns it off), got {args.fallback}")
    order = args.order or SamplerConfig().order
    decoding = {name: getattr(args, name) for name in ADAPTIVE if getattr(args, name) is not None}
    SamplerConfig(order=order, **decoding)  # bad values are named before any work
    puzzles = parse_puzzles(args.puzzle, args.file)  # so is a bad line anywhere in the file
    model = load_sudoku_model(args.model)

    t0 = time.perf_counter()
    # One chunk fills one denoiser batch; its lines are printed before the next chunk starts.
    chunks = solve_in_chunks(model, puzzles, chunk_size=max(1, args.batch_size // args.best_of),
                             fallback_best_of=args.fallback, nfe=args.nfe, order=order,
                             best_of=args.best_of, batch_size=args.batch_size,
                             generator=torch.Generator().manual_seed(args.seed),
                             constrained=args.constrained, **decoding)
    answers = []
    quiet = args.no_progress or not sys.stderr.isatty()
    with tqdm(total=len(puzzles), desc="sudoku solve", unit="puzzle", disable=quiet) as bar:
        for chunk in chunks:
            lines = [answer_line(a, args.fallback, args.pretty) for a in chunk]
            tqdm.write("\n".join(lines), file=sys.stdout)  # clears the bar, prints, redraws it
            sys.stdout.flush()
            bar.update(len(chunk))
            answers += chunk
    print(_solve_summary(answers, args, order, decoding, time.perf_counter() - t0), file=sys.stderr)
    return 0 if all(a.path in ("model", "fallback") for a in answers) else 1


def parse_puzzles(puzzle: str | None, file: Path | None) -> list[tuple[int, ...]]:
    """Every puzzle of read_puzzles as a board; a bad one is named by its place."""
    from .board import PuzzleError, parse_board

    boards = []
    for where, text in read_puzzles(puzzle, file):
        try:
            boards.append(parse_board(text, check=False))
        except PuzzleError as err:
            raise ValueError(f"{where}: {err}") from None
    return boards


def answer_line(answer, fallback_best_of: int, pretty: bool = False) -> str:
    """The printed line for one solve_in_chunks Answer: board, verdict (naming the fallback when
    it ran), denoiser calls (requested decoding + fallback); a grid below it with `pretty`."""
    from .board import format_board, pretty_board

    if answer.path == "contradictory":
        return f"{format_board(answer.puzzle)}  contradictory: {answer.reason}"
    verdict = "valid" if answer.path in ("model", "fallback") else "INVALID"
    if len(answer.nfe) > 1:
        outcome = "" if answer.path == "fallback" else ", also invalid"
        verdict += f" (fallback: constrained best-of-{fallback_best_of}{outcome})"
    line = f"{format_board(answer.board)}  {verdict}  nfe={'+'.join(map(str, answer.nfe))}"
    return line + "\n" + pretty_board(answer.board) + "\n" if pretty else line


def _solve_summary(answers, args, order: str, decoding: dict, seconds: float) -> str:
    """The stderr line: how many boards each path completed, then the protocol and its cost."""
    paths = Counter(a.path for a in answers)
    valid = paths["model"] + paths["fallback"]
    first = [a.nfe[0] for a in answers if a.path != "contradictory"]
    mean_nfe = sum(first) / len(first) if first else 0.0
    histogram = dict(sorted(Counter(first).items()))
    options = "".join(f", {name.replace('_', '-')} {value}" for name, value in decoding.items())
    options += ", constrained" if args.constrained else ""
    retried = [a.nfe[1] for a in answers if len(a.nfe) > 1]
    fallback = "fallback off"
    if args.fallback:
        fallback = (f"fallback (constrained, one cell per call, best-of {args.fallback}) ran for "
                    f"{len(retried)}")
        fallback += f", NFE mean {sum(retried) / len(retried):.2f}" if retried else ""
    return (f"{valid}/{len(answers)} valid ({paths['model']} by the requested decoding, "
            f"{paths['fallback']} by the fallback), {paths['invalid']} INVALID, "
            f"{paths['contradictory']} contradictory; model {args.model}, {order}, "
            f"NFE <= {args.nfe} (used: mean {mean_nfe:.2f}, histogram {histogram}){options}, "
            f"best-of {args.best_of}; {fallback}; {seconds:.2f}s")


def _pool(args) -> int:
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


def latent_batch(recipe: dict, count: int, seed: int):
    """The task's hook for `maskdiff latent`: committed test puzzles, blanks decoded."""
    from .train import latent_batch as puzzles

    return puzzles(recipe, count, seed)
