"""The Sudoku training recipe: record, resume, validation cache, errors."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from maskdiff.models import read_config
from maskdiff.tasks.sudoku import load_sudoku_model
from maskdiff.tasks.sudoku.testsets import load_test_set
from maskdiff.tasks.sudoku.train import RECIPES, T_MAX, T_MIN, train_sudoku


def _tiny(kind):
    recipe = RECIPES[kind]
    return replace(recipe, data={"validation_size": 2, "num_base_grids": 5},
                   train=replace(recipe.train, batch_size=4, eval_every=2, checkpoint_every=1,
                                 warmup_steps=1))


def test_recipes_focus_on_puzzle_mask_ratios():
    for recipe in (RECIPES["mdm"], RECIPES["vmd"]):  # grids: mask ratios where puzzles live
        assert (recipe.train.t_min, recipe.train.t_max) == (T_MIN, T_MAX)
        assert T_MIN < 0.7 < T_MAX  # the committed puzzles sit at a mask ratio of about 0.7
    assert RECIPES["mdm"].model.latent_dim == 0 and RECIPES["vmd"].model.latent_dim > 0
    # the shipped models were trained by these recipes
    for kind in ("mdm", "vmd"):
        assert load_sudoku_model(kind).config == RECIPES[kind].model


@pytest.mark.parametrize("kind", ["mdm", "vmd"])
def test_train_records_cost_and_resumes(tmp_path, kind):
    out = tmp_path / kind
    _, first = train_sudoku(kind, out, steps=2, recipe=_tiny(kind), progress=False)
    assert first["steps"] == 2 and first["samples_seen"] == 8
    assert first["final_eval"] is not None and 0 <= first["final_eval"]["solved@10"] <= 1
    assert "CPU" in first["hardware"] or "GPU" in first["hardware"]
    cached = (out / "validation.csv").read_text()
    assert len(load_test_set(out / "validation.csv")) == 2

    # A longer run in the same folder resumes from step 2 rather than starting over.
    model, second = train_sudoku(kind, out, steps=4, recipe=_tiny(kind), progress=False)
    history = json.loads((out / "history.json").read_text())
    eval_steps = [h["step"] for h in history if "eval" in h]
    assert eval_steps == [2, 4] and second["steps"] == 4
    assert (out / "validation.csv").read_text() == cached
    loaded = load_sudoku_model(out / "model")
    assert loaded.config == model.config
    assert read_config(out / "model")[1]["training"]["steps"] == 4


def test_unknown_kind_and_bad_steps_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown Sudoku model kind 'gpt'"):
        train_sudoku("gpt", tmp_path)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train_sudoku("mdm", tmp_path, steps=0)


def test_puzzle_states_keep_givens_as_conditioning_and_augment_consistently(tmp_path):
    import torch

    from maskdiff.tasks.sudoku.board import find_conflict
    from maskdiff.tasks.sudoku.train import PuzzleSource

    pairs = load_test_set(Path(__file__).resolve().parents[2] / "tasks" / "sudoku" / "data"
                          / "strategies.csv")[:5]
    batch = PuzzleSource(pairs).sample(64, torch.Generator().manual_seed(0))
    for x0, maskable in zip(batch.x0.tolist(), batch.maskable.tolist()):
        board = [v + 1 for v in x0]
        assert find_conflict(board) is None and all(board)  # a valid solution grid
        assert 17 <= maskable.count(False) <= 40  # the givens of a real puzzle
    again = PuzzleSource(pairs).sample(64, torch.Generator().manual_seed(0))
    assert torch.equal(again.x0, batch.x0) and torch.equal(again.maskable, batch.maskable)


def test_a_pool_recipe_without_its_pool_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKDIFF_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="maskdiff sudoku pool"):
        train_sudoku("mdm-pool", tmp_path / "run", steps=1, progress=False)
