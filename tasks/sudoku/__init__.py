"""Sudoku: 81 cells, digits as tokens, givens as conditioning; solving, training, benchmark.

    board.py      parse / format boards, the exact solver and solution counter
    generate.py   random grids, their symmetries, unique-solution puzzles, difficulty ratings
    testsets.py   the fixed-seed test sets under data/ (regenerated bit for bit)
    pool.py       the training pool: rated puzzles of their own stream, none a test puzzle up to
                  symmetry (`maskdiff sudoku pool`)
    model.py      tokens <-> boards, the denoiser preset (row/column/box embeddings, peer
                  attention), the shipped models under data/models/
    solve.py      batched solving, best-of-K, adaptive decoding and the peer constraint, the validity
                  check, the calls used per puzzle
    train.py      the named recipes (mdm, vmd) and the training stream
    benchmark.py  accuracy against NFE per order, decoding protocol and difficulty; calibration of
                  committed cells (benchmarks/sudoku.py)
    demo.py       `maskdiff sudoku demo`
    cli.py        `maskdiff sudoku {train,solve,bench,pool,demo}`
"""

from .cli import add_commands
from .model import (
                    MASK_ID,
                    SHIPPED,
                    SHIPPED_DIR,
                    VOCAB,
                    board_to_tokens,
                    load_sudoku_model,
                    position_groups,
                    sudoku_model_config,
                    tokens_to_board,
)
from .solve import SolveResult, is_consistent, solve_puzzles
from .train import RECIPES, GridSource, run_recipe, train_sudoku

__all__ = ["add_commands", "run_recipe", "RECIPES", "VOCAB", "MASK_ID", "SHIPPED", "SHIPPED_DIR",
           "board_to_tokens", "tokens_to_board", "position_groups", "sudoku_model_config",
           "load_sudoku_model", "SolveResult", "solve_puzzles", "is_consistent", "GridSource",
           "train_sudoku"]
