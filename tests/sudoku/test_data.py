import pytest

from maskdiff.tasks.sudoku.testsets import generate_test_sets, load_test_set, make_indexed_puzzle


def test_indexed_puzzles_are_reproducible():
    assert make_indexed_puzzle(0, 3) == make_indexed_puzzle(0, 3)
    assert make_indexed_puzzle(0, 3) != make_indexed_puzzle(1, 3)


def test_generation_resumes_to_the_same_files(tmp_path):
    full = generate_test_sets(tmp_path / "a", per_bucket=2, seed=5, progress=False)
    assert full == {"singles": 2, "strategies": 2, "guessing": 2}
    # stop almost at once, then resume: identical files
    generate_test_sets(tmp_path / "b", per_bucket=2, seed=5, max_seconds=0.0, progress=False)
    generate_test_sets(tmp_path / "b", per_bucket=2, seed=5, progress=False)
    for bucket in full:
        a = (tmp_path / "a" / f"{bucket}.csv").read_text()
        assert a == (tmp_path / "b" / f"{bucket}.csv").read_text()
        pairs = load_test_set(tmp_path / "a" / f"{bucket}.csv", verify=True)
        assert len(pairs) == 2


def test_resume_with_other_seed_is_refused(tmp_path):
    generate_test_sets(tmp_path, per_bucket=1, seed=1, max_seconds=0.0, progress=False)
    generate_test_sets(tmp_path, per_bucket=1, seed=1, max_seconds=1.0, progress=False)
    with pytest.raises(ValueError, match="seed 1, not 2"):
        generate_test_sets(tmp_path, per_bucket=1, seed=2, progress=False)


def test_loading_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match="not a maskdiff Sudoku test set"):
        load_test_set(path)


def test_committed_test_sets_regenerate_bit_for_bit():
    """The first puzzles of the stream (seed 0) are the first lines of the committed files, and a
    sample of each file has exactly one solution, the recorded one, and its bucket's rating."""
    from pathlib import Path

    from maskdiff.tasks.sudoku.board import count_solutions, solve
    from maskdiff.tasks.sudoku.generate import rate

    folder = Path(__file__).resolve().parents[2] / "tasks" / "sudoku" / "data"
    stream = [make_indexed_puzzle(0, i) for i in range(12)]
    for bucket in ("singles", "strategies", "guessing"):
        lines = (folder / f"{bucket}.csv").read_text().splitlines()
        assert len(lines) == 1001
        expected = [f"{r['puzzle']},{r['solution']},{r['givens']}" for r in stream
                    if r["bucket"] == bucket]
        assert expected and lines[1:1 + len(expected)] == expected
        pairs = load_test_set(folder / f"{bucket}.csv")
        for puzzle, solution in pairs[::10]:  # every 10th; all 3,000 were verified at generation
            assert count_solutions(puzzle) == 1 and solve(puzzle) == solution
        for puzzle, _ in pairs[::100]:
            assert rate(puzzle) == bucket
