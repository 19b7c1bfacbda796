"""`maskdiff sudoku solve`: output format, given preservation, honest validity, errors."""

import csv
import re
from collections import Counter

import pytest

from maskdiff import MaskedDiffusionModel
from maskdiff.cli import main
from maskdiff.models import save_model
from maskdiff.tasks.sudoku import is_consistent, sudoku_model_config
from maskdiff.tasks.sudoku.benchmark import DATA_DIR
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
SINGLES = DATA_DIR / "singles.csv"  # the committed test puzzles


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


def _fields(line):
    """board, verdict, calls: a line's fields are separated by two spaces (a verdict naming the
    fallback holds single spaces)."""
    return line.split("  ")


def test_solve_keeps_givens_and_reports_validity_truthfully(model_dir, capsys):
    code, lines, err = _solve(["--model", model_dir, "--nfe", "5", HARD], capsys)
    board_text, verdict, nfe = _fields(lines[0])
    board, puzzle = parse_board(board_text, check=False), parse_board(HARD)
    assert all(p in (0, b) for p, b in zip(puzzle, board)), "a given was altered"
    actually_valid = all(board) and find_conflict(board) is None
    assert verdict.split()[0] == ("valid" if actually_valid else "INVALID")
    assert nfe.split("+")[0] == "nfe=5" and code == (0 if actually_valid else 1)
    assert ("fallback" in verdict) == ("+" in nfe)  # the fallback's calls are shown when it ran
    assert "valid" in err


def test_nfe_is_capped_at_the_number_of_blanks(model_dir, capsys):
    code, lines, _ = _solve(["--model", model_dir, "--nfe", "50", EASY], capsys)
    assert _fields(lines[0])[2].split("+")[0] == "nfe=3"


def test_file_input_skips_header_and_comments_and_prints_pretty_grids(model_dir, tmp_path, capsys):
    f = tmp_path / "puzzles.csv"
    f.write_text(f"puzzle,solution,givens\n# a comment\n{HARD},x,17\n\n{EASY}\n")
    code, lines, _ = _solve(["--model", model_dir, "--file", str(f), "--pretty", "--nfe", "3"],
                            capsys)
    boards = [line for line in lines if len(_fields(line)) == 3 and len(line.split()[0]) == 81]
    assert len(boards) == 2
    assert sum(line.count("|") == 2 for line in lines) == 18  # two 9-row grids


def test_best_of_k_keeps_a_valid_board_when_one_exists(model_dir, tmp_path, capsys, monkeypatch):
    """Of K trajectories per puzzle exactly one comes out valid, never the first: that one is
    printed, as the requested decoding's (the fallback is off, so it cannot be the rescuer)."""
    import dataclasses

    import maskdiff.tasks.sudoku.solve as solve_module
    from maskdiff.tasks.sudoku.board import format_board
    from maskdiff.tasks.sudoku.model import board_to_tokens, tokens_to_board

    k = 8
    real_generate = solve_module.generate
    made_valid = []  # per puzzle, the trajectory that was given the solution

    def one_valid_trajectory(model, x, **options):
        out = real_generate(model, x, **options)  # the real call, then its boards replaced
        boards = []
        for start in range(0, x.shape[0], k):
            puzzle = tokens_to_board(x[start:start + 1])[0]
            solution = solve(puzzle)
            wrong = list(solution)
            blank = puzzle.index(0)
            wrong[blank] = solution[blank] % 9 + 1  # another digit: a repeat in its row
            made_valid.append(3 + 2 * len(made_valid))
            boards += [solution if r == made_valid[-1] else tuple(wrong) for r in range(k)]
        return dataclasses.replace(out, tokens=board_to_tokens(boards))

    monkeypatch.setattr(solve_module, "generate", one_valid_trajectory)
    path = tmp_path / "two.txt"
    path.write_text(f"{EASY}\n{HARD}\n")
    code, lines, _ = _solve(["--model", model_dir, "--nfe", "3", "--best-of", str(k),
                             "--fallback", "0", "--file", str(path)], capsys)
    assert made_valid == [3, 5]  # both puzzles' trajectories were decoded, in one call
    assert code == 0 and len(lines) == 2
    for line, puzzle in zip(lines, (EASY, HARD)):
        board_text, verdict, nfe = _fields(line)
        assert board_text == format_board(solve(parse_board(puzzle)))
        assert verdict == "valid" and nfe == "nfe=3"


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
    used = int(_fields(lines[0])[2].split("+")[0].removeprefix("nfe="))
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


SUMMARY = re.compile(r"(\d+)/(\d+) valid \((\d+) by the requested decoding, (\d+) by the fallback\), "
                     r"(\d+) INVALID, (\d+) contradictory")


def check_lines_against_summary(lines, err, puzzles):
    """Every line says truly which path produced it, and stderr's counts are those of the lines."""
    paths = Counter()
    for line, puzzle in zip(lines, puzzles, strict=True):
        if "contradictory" in line:
            paths["contradictory"] += 1
            continue
        board_text, verdict, nfe = _fields(line)
        board = parse_board(board_text, check=False)
        assert verdict.split()[0] == ("valid" if is_consistent(board, puzzle) else "INVALID")
        fell_back = verdict.endswith("(fallback: constrained best-of-4)")
        assert fell_back or verdict in ("valid", "INVALID", "INVALID (fallback: constrained "
                                                            "best-of-4, also invalid)")
        assert ("fallback" in verdict) == (nfe.count("+") == 1)
        paths["fallback" if fell_back else verdict.split()[0]] += 1
    valid, total, by_model, by_fallback, invalid, contradictory = map(int, SUMMARY.search(err).groups())
    assert (valid, total) == (by_model + by_fallback, len(puzzles))
    assert (by_model, by_fallback, invalid, contradictory) == (
        paths["valid"], paths["fallback"], paths["INVALID"], paths["contradictory"])


def test_each_line_names_the_path_that_produced_it(model_dir, tmp_path, capsys):
    # An untrained model gets boards wrong: the fallback runs, and the lines and counts say so.
    puzzles = [HARD, EASY, REPEATED]
    path = tmp_path / "three.txt"
    path.write_text("\n".join(puzzles))
    code, lines, err = _solve(["--model", model_dir, "--nfe", "3", "--file", str(path)], capsys)
    check_lines_against_summary(lines, err, [parse_board(p, check=False) for p in puzzles])
    assert "fallback (constrained, one cell per call, best-of 4) ran for" in err
    assert code == (0 if "3/3 valid" in err else 1)
    # EASY's blanks each have one digit no peer holds: the constrained fallback cannot miss.
    assert _fields(lines[1])[1] in ("valid", "valid (fallback: constrained best-of-4)")


def test_a_contradictory_puzzle_mid_file_is_reported_in_its_place(model_dir, tmp_path, capsys):
    with open(SINGLES) as f:
        puzzles = [row["puzzle"] for row in csv.DictReader(f)][:300]
    puzzles.insert(150, NO_SOLUTION)
    path = tmp_path / "many.txt"
    path.write_text("\n".join(puzzles) + "\n")
    code, lines, err = _solve(["--model", model_dir, "--file", str(path), "--nfe", "2",
                               "--batch-size", "64", "--fallback", "0", "--no-progress"], capsys)
    assert code == 1 and len(lines) == 301
    assert lines[150].startswith(NO_SOLUTION) and "contradictory: no completion" in lines[150]
    assert all("contradictory" not in line for i, line in enumerate(lines) if i != 150)
    check_lines_against_summary(lines, err, [parse_board(p, check=False) for p in puzzles])
    assert "fallback off" in err


def test_a_pool_recipe_ships_as_its_kind():
    from maskdiff.tasks.sudoku.cli import shipped_name
    from maskdiff.tasks.sudoku.train import RECIPES

    assert {name: shipped_name(name) for name in RECIPES} == {
        "mdm": "mdm", "vmd": "vmd", "mdm-pool": "mdm", "vmd-pool": "vmd", "mdm-pool-gpu": "mdm"}
    for name in RECIPES:  # what ships as "vmd" has a latent, what ships as "mdm" has none
        assert RECIPES[name].model.is_vmd == (shipped_name(name) == "vmd")
