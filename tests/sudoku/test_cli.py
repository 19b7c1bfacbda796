"""`maskdiff sudoku solve`: output format, given preservation, honest validity, errors."""

import pytest

from maskdiff import MaskedDiffusionModel
from maskdiff.cli import main
from maskdiff.models import save_model
from maskdiff.tasks.sudoku import sudoku_model_config
from maskdiff.tasks.sudoku.board import find_conflict, parse_board, solve

from ..conftest import tiny_model

# Norvig's hard1 (unique solution) and an easy puzzle with only three blanks.
HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
SOLVED = solve(parse_board(HARD))
EASY = "".join("." if i in (0, 40, 80) else str(v) for i, v in enumerate(SOLVED))
REPEATED = "55" + "." * 79
# Row 1 leaves only 1 for its first cell, but column 1 already holds a 1: no completion,
# though no digit is repeated.
NO_SOLUTION = "." + "23456789" + "1" + "." * 71


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch
    torch.manual_seed(0)
    model = MaskedDiffusionModel(sudoku_model_config(d_model=32, n_layers=1, n_heads=2))
    path = tmp_path_factory.mktemp("sudoku-model")
    save_model(model, path)
    return str(path)


def _solve(args, capsys):
    code = main(["sudoku", "solve", *args])
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_solve_keeps_givens_and_reports_validity_truthfully(model_dir, capsys):
    code, lines, err = _solve(["--model", model_dir, "--nfe", "5", HARD], capsys)
    board_text, verdict, nfe = lines[0].split()
    board, puzzle = parse_board(board_text, check=False), parse_board(HARD)
    assert all(p in (0, b) for p, b in zip(puzzle, board)), "a given was altered"
    actually_valid = all(board) and find_conflict(board) is None
    assert verdict == ("valid" if actually_valid else "INVALID")
    assert nfe == "nfe=5" and code == (0 if actually_valid else 1)
    assert "valid" in err


def test_nfe_is_capped_at_the_number_of_blanks(model_dir, capsys):
    code, lines, _ = _solve(["--model", model_dir, "--nfe", "50", EASY], capsys)
    assert lines[0].split()[2] == "nfe=3"


def test_file_input_skips_header_and_comments_and_prints_pretty_grids(model_dir, tmp_path, capsys):
    f = tmp_path / "puzzles.csv"
    f.write_text(f"puzzle,solution,givens\n# a comment\n{HARD},x,17\n\n{EASY}\n")
    code, lines, _ = _solve(["--model", model_dir, "--file", str(f), "--pretty", "--nfe", "3"],
                            capsys)
    boards = [line for line in lines if len(line.split()) == 3 and len(line.split()[0]) == 81]
    assert len(boards) == 2
    assert sum(line.count("|") == 2 for line in lines) == 18  # two 9-row grids


def test_best_of_k_keeps_a_valid_board_when_one_exists(model_dir, capsys):
    # Whatever an untrained model produces over K trajectories, the verdict must be true.
    code, lines, _ = _solve(["--model", model_dir, "--nfe", "3", "--best-of", "64", EASY], capsys)
    board = parse_board(lines[0].split()[0], check=False)
    verdict = lines[0].split()[1]
    assert verdict == ("valid" if all(board) and find_conflict(board) is None else "INVALID")


@pytest.mark.parametrize("puzzle,message", [(REPEATED, "digit 5 repeated in row 1"),
                                            (NO_SOLUTION, "no completion")])
def test_contradictory_puzzles_are_reported_with_nonzero_exit(model_dir, capsys, puzzle, message):
    code, lines, _ = _solve(["--model", model_dir, puzzle], capsys)
    assert code == 1 and "contradictory" in lines[0] and message in lines[0]


@pytest.mark.parametrize("args,message", [
    (["12345"], "a puzzle needs 81 cells, got 5"),
    (["x" + "." * 80], "bad character 'x' at row 1, column 1"),
    ([], "give one PUZZLE or --file"),
    (["--nfe", "0", HARD], "--nfe must be >= 1"),
    (["--best-of", "0", HARD], "--best-of must be >= 1"),
])
def test_bad_input_is_a_clear_error(model_dir, capsys, args, message):
    code, _, err = _solve(["--model", model_dir, *args], capsys)
    assert code == 2 and message in err


def test_bad_line_in_file_is_named(model_dir, tmp_path, capsys):
    f = tmp_path / "p.txt"
    f.write_text(f"{HARD}\n123\n")
    code, _, err = _solve(["--model", model_dir, "--file", str(f)], capsys)
    assert code == 2 and "line 2" in err and "needs 81 cells" in err


def test_missing_or_foreign_model_is_a_clear_error(tmp_path, capsys):
    code, _, err = _solve(["--model", str(tmp_path / "nope"), HARD], capsys)
    assert code == 2 and "no saved maskdiff model" in err
    save_model(tiny_model(), tmp_path / "tiny")
    code, _, err = _solve(["--model", str(tmp_path / "tiny"), HARD], capsys)
    assert code == 2 and "not a Sudoku model" in err


def test_adaptive_options_report_the_calls_used(model_dir, capsys):
    code, lines, err = _solve(["--model", model_dir, "--nfe", "10", "--threshold", "0.2",
                               "--remask", "confidence", "--constrained", HARD], capsys)
    used = int(lines[0].split()[2].removeprefix("nfe="))
    assert 1 <= used <= 10 and "used: mean" in err and "threshold 0.2" in err
    assert f"histogram {{{used}: 1}}" in err
    assert "constrained" in err


@pytest.mark.parametrize("args,message", [
    (["--threshold", "2"], "threshold must lie in"),
    (["--min-per-call", "one"], "needs a threshold"),
])
def test_bad_adaptive_options_are_clear_errors(model_dir, capsys, args, message):
    code, _, err = _solve(["--model", model_dir, *args, HARD], capsys)
    assert code == 2 and message in err
