"""The training pool: reproducible, resumable, rated, and provably apart from the test sets."""

import random

import pytest

from maskdiff.tasks.sudoku.benchmark import load_buckets
from maskdiff.tasks.sudoku.board import count_solutions
from maskdiff.tasks.sudoku.generate import augment, random_grid
from maskdiff.tasks.sudoku.pool import build_pool, drop_test_overlap, grid_invariant, load_pool


def test_the_invariant_is_the_same_on_every_symmetric_image_and_tells_grids_apart():
    rng = random.Random(0)
    grid = random_grid(rng)
    assert all(grid_invariant(augment(grid, rng)) == grid_invariant(grid) for _ in range(50))
    others = {grid_invariant(random_grid(rng)) for _ in range(50)}
    assert grid_invariant(grid) not in others and len(others) == 50


def test_the_pool_resumes_to_the_same_file_and_each_puzzle_is_unique(tmp_path):
    whole, parts = tmp_path / "a.csv", tmp_path / "b.csv"
    build_pool(whole, 6, workers=1, progress=False)
    build_pool(parts, 3, workers=1, progress=False)
    assert build_pool(parts, 6, workers=2, progress=False) == 6
    assert whole.read_text() == parts.read_text()
    rows = load_pool(whole)
    assert [r["index"] for r in rows] == list(range(6))
    assert all(count_solutions(r["puzzle"]) == 1 for r in rows)


def test_a_test_puzzle_in_disguise_is_dropped(tmp_path):
    path = tmp_path / "pool.csv"
    build_pool(path, 4, workers=1, progress=False)
    rows = load_pool(path)
    tests = [s for pairs in load_buckets(50).values() for _, s in pairs]
    kept, dropped = drop_test_overlap(rows, tests)
    assert dropped == 0 and kept == rows
    disguised = augment(rows[0]["solution"], random.Random(3))
    kept, dropped = drop_test_overlap(rows, tests + [disguised])
    assert dropped == 1 and rows[0] not in kept


def test_a_damaged_pool_is_named(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("index,puzzle,solution,givens,bucket\n5,x,y,1,singles\n")
    with pytest.raises(ValueError, match="expected puzzle 0 of the pool"):
        load_pool(path)
