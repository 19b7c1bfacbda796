import re

import pytest

from maskdiff.tasks.sudoku.board import (
    PEERS,
    PuzzleError,
    count_solutions,
    format_board,
    parse_board,
    pretty_board,
    solve,
)

HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
HARD_SOLUTION = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def test_parse_accepts_dots_zeros_and_grids():
    flat = parse_board(HARD)
    assert parse_board(HARD.replace(".", "0")) == flat
    assert parse_board(pretty_board(flat)) == flat
    assert format_board(flat) == HARD


@pytest.mark.parametrize("text,message", [
    ("123", "needs 81 cells, got 3"),
    ("x" + "." * 80, "bad character 'x' at row 1, column 1"),
    ("11" + "." * 79, "digit 1 repeated in row 1"),
    ("1" + "." * 8 + "1" + "." * 71, "digit 1 repeated in column 1"),
    ("1" + "." * 9 + "1" + "." * 70, "digit 1 repeated in box 1"),
])
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(PuzzleError, match=message):
        parse_board(text)


def test_solver_and_counter():
    puzzle = parse_board(HARD)
    assert format_board(solve(puzzle)) == HARD_SOLUTION
    assert count_solutions(puzzle) == 1
    band_blank = list(parse_board(HARD_SOLUTION))
    band_blank[:27] = [0] * 27  # any order of the band's three rows is a solution too
    assert count_solutions(band_blank, limit=100) >= 6
    assert count_solutions([0] * 81, limit=3) == 3


def test_contradictory_puzzle_has_no_solution():
    board = [0] * 81
    board[0:8] = [1, 2, 3, 4, 5, 6, 7, 8]
    board[9 * 1 + 8] = 9  # row 1's last cell needs 9, but column 9 already has it
    assert solve(board) is None and count_solutions(board) == 0


def test_every_cell_has_twenty_peers():
    assert all(len(p) == 20 for p in PEERS)


def test_read_puzzle_lines_refuses_a_binary_file(tmp_path):
    from maskdiff.tasks.sudoku.board import read_puzzle_lines

    png = tmp_path / "board.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ValueError, match=re.escape(f"{png} is not a text file (byte 0 is not UTF-8 text)")):
        read_puzzle_lines(png)
    nul = tmp_path / "zeros.bin"
    nul.write_bytes(HARD.encode() + b"\x00\x00\n")
    with pytest.raises(ValueError, match=re.escape(f"{nul} is not a text file (it holds NUL bytes)")):
        read_puzzle_lines(nul)
    with pytest.raises(FileNotFoundError, match="no puzzle file at"):
        read_puzzle_lines(tmp_path / "missing.txt")


def test_read_puzzle_lines_reads_text_with_a_byte_order_mark(tmp_path):
    from maskdiff.tasks.sudoku.board import read_puzzle_lines

    path = tmp_path / "puzzles.txt"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HARD}\r\n# note\n".encode())
    assert read_puzzle_lines(path) == [HARD, "# note"]
