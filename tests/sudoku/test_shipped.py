"""The committed Sudoku checkpoints: present, small, documented, and able to solve."""

import pytest
import torch

from maskdiff.cli import main
from maskdiff.models import read_config
from maskdiff.tasks.sudoku import SHIPPED, SHIPPED_DIR, is_consistent, load_sudoku_model, solve_puzzles
from maskdiff.tasks.sudoku.benchmark import load_buckets
from maskdiff.tasks.sudoku.board import count_solutions, format_board, parse_board

from .test_cli import check_lines_against_summary


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_small_and_records_its_training_cost(name):
    folder = SHIPPED_DIR / name
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 20 * 2**20
    record = read_config(folder)[1]["training"]
    for key in ("hardware", "wall_seconds", "steps", "samples_seen"):
        assert record[key], key
    assert record["samples_seen"] == record["steps"] * record["train_config"]["batch_size"]
    model = load_sudoku_model(name)
    assert model.config.is_vmd == (name == "vmd")


def _deadly_pattern_puzzle():
    """A test-set solution with four cells blanked that form a swappable rectangle (two rows of one
    band, two columns of different stacks, values a b / b a): exactly two completions."""
    for _, solution in load_buckets(per_bucket=200)["singles"]:
        for r1 in range(9):
            for r2 in range(r1 + 1, 3 * (r1 // 3) + 3):
                for c1 in range(9):
                    for c2 in range(3 * (c1 // 3) + 3, 9):
                        a, b = solution[9 * r1 + c1], solution[9 * r1 + c2]
                        if (solution[9 * r2 + c1], solution[9 * r2 + c2]) == (b, a):
                            cells = {9 * r1 + c1, 9 * r1 + c2, 9 * r2 + c1, 9 * r2 + c2}
                            return tuple(0 if i in cells else v for i, v in enumerate(solution))
    raise AssertionError("no deadly pattern in 200 grids")


@pytest.mark.parametrize("name", SHIPPED)
def test_a_puzzle_with_two_solutions_gets_a_valid_completion(name, capsys):
    puzzle = _deadly_pattern_puzzle()
    assert count_solutions(puzzle, limit=3) == 2
    assert main(["sudoku", "solve", "--model", name, format_board(puzzle)]) == 0
    out = capsys.readouterr()
    board = parse_board(out.out.split()[0], check=False)
    assert out.out.split()[1] == "valid" and is_consistent(board, puzzle)
    assert "1/1 valid" in out.err


def _first_givens(puzzle, count):
    """The puzzle with only its first `count` givens kept (in reading order): many solutions."""
    kept = [i for i, v in enumerate(puzzle) if v][:count]
    return tuple(puzzle[i] if i in kept else 0 for i in range(81))


def test_puzzles_with_many_solutions_end_valid_and_the_report_says_how(tmp_path, capsys):
    # The requested decoding (20 calls) gets such boards wrong (they are unlike the
    # unique-solution training puzzles); the constrained fallback completes them, and each line
    # and stderr's counts say which path did.
    puzzles = [_first_givens(p, 10) for p, _ in load_buckets(per_bucket=3)["singles"]]
    assert all(count_solutions(p, limit=2) == 2 for p in puzzles)
    path = tmp_path / "ten-givens.txt"
    path.write_text("\n".join(format_board(p) for p in puzzles))
    code = main(["sudoku", "solve", "--model", "mdm", "--file", str(path)])
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    check_lines_against_summary(lines, out.err, puzzles)
    assert code == 0 and "3/3 valid" in out.err


def test_shipped_models_solve_easy_puzzles():
    # Singles-only puzzles with a third of the blanks filled in from the solution: a model that
    # learned the rules solves nearly all; an untrained one solves none.
    pairs = load_buckets(per_bucket=20)["singles"]
    g = torch.Generator().manual_seed(0)
    easier = []
    for puzzle, solution in pairs:
        blanks = [i for i, v in enumerate(puzzle) if v == 0]
        keep = set(torch.randperm(len(blanks), generator=g)[: len(blanks) // 3].tolist())
        easier.append(tuple(solution[i] if (v == 0 and blanks.index(i) in keep) else v
                            for i, v in enumerate(puzzle)))
    for name in SHIPPED:
        result = solve_puzzles(load_sudoku_model(name), easier, nfe=None)
        assert sum(result.valid) >= 18, (name, sum(result.valid))


def test_demo_prints_boards_and_an_accuracy_table(capsys):
    assert main(["sudoku", "demo", "--per-bucket", "2", "--nfe", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("------+-------+------") == 3 * 2 * 2  # three side-by-side grid pairs
    assert "| MDM |" in out and "| VMD |" in out and "| VMD best-of-4 |" in out
