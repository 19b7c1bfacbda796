"""The `maskdiff` command.

    maskdiff synthetic [bench] [--quick] [--datasets d1 d2 ...] [--out DIR]
    maskdiff synthetic train --dataset d1 --method vmd --blocks 1 --out DIR [--steps N]
    maskdiff synthetic eval --model DIR --dataset d1 --nfe 1 [--samples N] [--temperature T]
    maskdiff sample --model DIR [--num N] [--nfe N] [--order ...] [--temperature T]
    maskdiff sudoku train --model {mdm,vmd} --out DIR [--steps N] [--ship]
    maskdiff sudoku solve PUZZLE | --file FILE [--model {mdm,vmd,PATH}] [--nfe N] [--order ...]
                          [--best-of K] [--pretty]
    maskdiff sudoku bench [--models mdm vmd] [--per-bucket N] [--out DIR]
    maskdiff sudoku demo [--per-bucket N] [--nfe N]
    maskdiff train --config FILE [--out DIR] [--set KEY=VALUE ...]   (text; see cli_text)
    maskdiff text {prepare,eval,bench} ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from .cli_text import add_text_commands, run_text_command

__all__ = ["main"]


def _add_synthetic(sub) -> None:
    syn = sub.add_parser("synthetic", help="the 2- and 4-token dependency sets (Block MDM vs VMD)")
    syn_sub = syn.add_subparsers(dest="action")
    bench = syn_sub.add_parser("bench", help="train every model and print the paper's table")
    for p in (syn, bench):
        p.add_argument("--datasets", nargs="+", default=["d1", "d2", "two-uniform", "two-nonuniform"],
                       help="which sets (default: all four)")
        p.add_argument("--quick", action="store_true", help="short training (a smoke run, not the results)")
        p.add_argument("--workers", type=int, default=2, help="parallel training processes (default 2)")
        p.add_argument("--samples", type=int, default=10_000, help="decoded samples per row (default 10000)")
        p.add_argument("--out", type=Path, default=None,
                       help="write synthetic.json and synthetic.md into this folder")

    tr = syn_sub.add_parser("train", help="train one synthetic model and save it")
    tr.add_argument("--dataset", required=True)
    tr.add_argument("--method", choices=("mdm", "vmd"), required=True)
    tr.add_argument("--blocks", type=int, default=1, help="number of blocks B (default 1)")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the model")

    ev = syn_sub.add_parser("eval", help="decode and score a saved synthetic model")
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--nfe", type=int, required=True)
    ev.add_argument("--samples", type=int, default=10_000)
    ev.add_argument("--temperature", type=float, default=1.0)


def _add_sample(sub) -> None:
    from .sampling import METHODS, ORDERS, Z_POLICIES

    sp = sub.add_parser("sample", help="decode sequences from a saved model")
    sp.add_argument("--model", type=Path, required=True, help="folder written by save_model/train")
    sp.add_argument("--num", type=int, default=8, help="number of sequences (default 8)")
    sp.add_argument("--nfe", type=int, default=None, help="denoiser calls (default: one token per step)")
    sp.add_argument("--method", choices=METHODS, default="confidence")
    sp.add_argument("--order", choices=ORDERS, default="top-prob-margin")
    sp.add_argument("--temperature", type=float, default=1.0)
    sp.add_argument("--z-policy", choices=Z_POLICIES, default="fixed")
    sp.add_argument("--seed", type=int, default=0)


def _add_sudoku_solve(su_sub) -> None:
    from .sampling import ORDERS

    so = su_sub.add_parser(
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
    so.add_argument("--order", choices=ORDERS, default="top-prob-margin")
    so.add_argument("--best-of", type=int, default=1,
                    help="K trajectories per puzzle with different latents/noise; keep a valid one")
    so.add_argument("--pretty", action="store_true", help="also print each board as a grid")
    so.add_argument("--seed", type=int, default=0)
    so.add_argument("--batch-size", type=int, default=256, help="trajectories per denoiser call")


def _add_sudoku_bench(su_sub) -> None:
    from .sampling import ORDERS

    be = su_sub.add_parser("bench", help="accuracy against NFE on the committed test sets")
    be.add_argument("--models", nargs="+", default=["mdm", "vmd"],
                    help="'mdm', 'vmd' or model folders (default: both shipped models)")
    be.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50])
    be.add_argument("--orders", nargs="+", choices=ORDERS,
                    default=["random", "top-prob", "top-prob-margin"])
    be.add_argument("--best-of", type=int, nargs="+", default=[4],
                    help="best-of-K rows for VMD models at top-prob-margin (default 4)")
    be.add_argument("--best-of-nfe", type=int, nargs="+", default=None,
                    help="NFE values of the best-of-K rows (default: those of --nfe)")
    be.add_argument("--per-bucket", type=int, default=None,
                    help="first N puzzles of each bucket (default: all 1,000)")
    be.add_argument("--out", type=Path, default=None,
                    help="write sudoku.json, sudoku_meta.json, sudoku.md and sudoku.png into this "
                         "folder; finished rows are kept in sudoku_rows.jsonl so a stopped run resumes")
    be.add_argument("--seed", type=int, default=0)


def _add_sudoku_demo(su_sub) -> None:
    de = su_sub.add_parser("demo", help="solve a few puzzles on screen and score the shipped models")
    de.add_argument("--per-bucket", type=int, default=100,
                    help="puzzles per bucket for the accuracy table (default 100)")
    de.add_argument("--nfe", type=int, default=20, help="denoiser calls per puzzle (default 20)")
    de.add_argument("--seed", type=int, default=0)


def _add_sudoku(sub) -> None:
    su = sub.add_parser("sudoku", help="train, solve and benchmark Sudoku models")
    su_sub = su.add_subparsers(dest="action", required=True)
    tr = su_sub.add_parser("train", help="train a Sudoku model by the shipped recipe")
    tr.add_argument("--model", choices=("mdm", "vmd"), required=True, help="which recipe")
    tr.add_argument("--out", type=Path, required=True,
                    help="run folder: checkpoints (resumed if present) and the final model")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    tr.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    tr.add_argument("--ship", action="store_true",
                    help="also install the final model as the default for `sudoku solve`")
    _add_sudoku_solve(su_sub)
    _add_sudoku_bench(su_sub)
    _add_sudoku_demo(su_sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskdiff", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_synthetic(sub)
    _add_sample(sub)
    _add_sudoku(sub)
    add_text_commands(sub)
    return parser


def _synthetic_bench(args) -> int:
    from .tasks.synthetic_benchmark import likelihood_table, markdown_table, run_benchmark

    t0 = time.perf_counter()
    print(f"Training Block MDM and VMD on {', '.join(args.datasets)} "
          f"({'quick' if args.quick else 'full'} recipe, {args.workers} workers)...", flush=True)
    rows = run_benchmark(args.datasets, quick=args.quick, workers=args.workers,
                         num_samples=args.samples)
    table = markdown_table(rows) + "\n\n" + likelihood_table(rows)
    print()
    print(table)
    print(f"\nTotal wall time: {time.perf_counter() - t0:.0f}s")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "synthetic.json").write_text(json.dumps(rows, indent=1) + "\n")
        (args.out / "synthetic.md").write_text(table + "\n")
        print(f"Wrote {args.out / 'synthetic.json'} and {args.out / 'synthetic.md'}")
    return 0


def _synthetic_train(args) -> int:
    from .models import save_model
    from .tasks.synthetic_benchmark import recipe_for, train_model

    recipe = recipe_for(args.dataset, args.method)
    if args.steps is not None:
        recipe = replace(recipe, steps=args.steps,
                         kl_warmup_steps=min(recipe.kl_warmup_steps, 2 * args.steps // 3))
    model, result = train_model(args.dataset, args.method, args.blocks, recipe, seed=args.seed,
                                out_dir=args.out / "run")
    save_model(model, args.out, extra={"dataset": args.dataset, "method": args.method,
                                       "blocks": args.blocks, "steps": result.steps})
    last = result.history[-1] if result.history else {}
    print(f"trained {args.dataset} {args.method} B={args.blocks}: {result.steps} steps in "
          f"{result.seconds:.0f}s, bound {last.get('bound', float('nan')):.4f} nats/token; "
          f"saved to {args.out}")
    return 0


def _synthetic_eval(args) -> int:
    from .models import load_model
    from .tasks.synthetic_benchmark import evaluate_model

    model = load_model(args.model)
    row = evaluate_model(model, args.dataset, args.nfe, args.samples, args.temperature)
    print(json.dumps(row, indent=1))
    return 0


def _sample(args) -> int:
    import torch

    from .models import load_model
    from .sampling import SamplerConfig, generate

    model = load_model(args.model)
    config = SamplerConfig(nfe=args.nfe, method=args.method, order=args.order,
                           temperature=args.temperature, z_policy=args.z_policy)
    out = generate(model, batch_size=args.num, config=config,
                   generator=torch.Generator().manual_seed(args.seed))
    tokenizer_dir = args.model / "tokenizer"  # text models carry their tokenizer
    if tokenizer_dir.is_dir():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        for row in out.tokens.tolist():
            print(tok.decode(row).replace("\n", " | "))
    else:
        for row in out.tokens.tolist():
            print(" ".join(map(str, row)))
    print(f"NFE: {out.nfe}", file=sys.stderr)
    return 0


def require_positive(**options) -> None:
    """Refuse option values below 1 (lists are checked element by element; None is a default)."""
    for name, value in options.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None and v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")


def _sudoku_train(args) -> int:
    import shutil

    import torch

    from .tasks.sudoku import SHIPPED_DIR
    from .tasks.sudoku_train import train_sudoku

    require_positive(threads=args.threads, steps=args.steps)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    _, record = train_sudoku(args.model, args.out, steps=args.steps, resume=not args.no_resume,
                             seed=args.seed)
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


def _read_puzzles(args) -> list[tuple[str, str]]:
    """(where, text) for every puzzle given on the command line or in --file."""
    if (args.puzzle is None) == (args.file is None):
        raise ValueError("give one PUZZLE or --file FILE (one puzzle per line)")
    if args.puzzle is not None:
        return [("puzzle", args.puzzle)]
    if str(args.file) == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        if not args.file.is_file():
            raise FileNotFoundError(f"no puzzle file at {args.file}")
        lines, name = args.file.read_text().splitlines(), str(args.file)
    found = []
    for n, line in enumerate(lines, start=1):
        text = line.split(",")[0].strip()  # test-set CSV lines: the puzzle is the first field
        if text and not text.startswith("#") and text != "puzzle":
            found.append((f"{name}, line {n}", text))
    if not found:
        raise ValueError(f"{name} holds no puzzles")
    return found


def _sudoku_solve(args) -> int:
    import torch

    from .tasks.sudoku import load_sudoku_model, solve_puzzles
    from .tasks.sudoku_board import (PuzzleError, count_solutions, find_conflict, format_board,
                                     parse_board, pretty_board)

    require_positive(best_of=args.best_of, nfe=args.nfe, batch_size=args.batch_size)
    puzzles = []
    for where, text in _read_puzzles(args):
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
    result = solve_puzzles(model, [puzzles[i][1] for i in todo], nfe=args.nfe, order=args.order,
                           best_of=args.best_of, batch_size=args.batch_size,
                           generator=torch.Generator().manual_seed(args.seed))
    seconds = time.perf_counter() - t0
    solved = {i: (result.boards[j], result.valid[j], result.nfe[j]) for j, i in enumerate(todo)}

    for i, (where, board) in enumerate(puzzles):
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
    print(f"{n_valid}/{len(puzzles)} valid, {len(contradiction)} contradictory; "
          f"model {args.model}, {args.order}, NFE <= {args.nfe}, best-of {args.best_of}; "
          f"{seconds:.2f}s", file=sys.stderr)
    return 0 if n_valid == len(puzzles) else 1


def _sudoku_demo(args) -> int:
    from .tasks.sudoku_benchmark import run_demo

    require_positive(per_bucket=args.per_bucket, nfe=args.nfe)
    return run_demo(args)


def _sudoku_bench(args) -> int:
    from .tasks.sudoku_benchmark import run_from_cli

    require_positive(nfe=args.nfe, best_of=args.best_of, best_of_nfe=args.best_of_nfe,
                      per_bucket=args.per_bucket)
    return run_from_cli(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "synthetic":
            action = args.action or "bench"
            return {"bench": _synthetic_bench, "train": _synthetic_train,
                    "eval": _synthetic_eval}[action](args)
        if args.command == "sample":
            return _sample(args)
        if args.command == "sudoku":
            return {"train": _sudoku_train, "solve": _sudoku_solve,
                    "bench": _sudoku_bench, "demo": _sudoku_demo}[args.action](args)
        if args.command in ("train", "text"):
            return run_text_command(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"maskdiff: error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
