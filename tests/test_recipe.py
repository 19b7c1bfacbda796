"""Recipes: one shape for every task, read from and written to YAML/JSON, one shortening rule."""

import json
from dataclasses import replace

import pytest

from maskdiff.cli import main
from maskdiff.models import read_config
from maskdiff.recipe import Recipe, load_recipe, parse_overrides, save_recipe
from maskdiff.tasks.sudoku.train import RECIPES as SUDOKU
from maskdiff.tasks.synthetic.train import synthetic_recipe


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_every_named_recipe_round_trips_through_a_file(tmp_path, suffix):
    for recipe in [*SUDOKU.values(), synthetic_recipe("d2", "vmd", 2)]:
        path = save_recipe(recipe, tmp_path / f"r{suffix}")
        assert load_recipe(path) == recipe


def test_shortened_keeps_the_warmups_share():
    recipe = SUDOKU["vmd"]  # 2,500 steps, KL warm-up 1,000, lr warm-up 100
    short = recipe.shortened(250)
    assert (short.train.steps, short.train.kl_warmup_steps, short.train.warmup_steps) == (250, 100, 10)
    assert short.model == recipe.model and short.train.lr == recipe.train.lr
    with pytest.raises(ValueError, match="steps must be >= 1"):
        recipe.shortened(0)


@pytest.mark.parametrize("raw,message", [
    ({"model": {}}, "must name its task"),
    ({"task": "sudoku", "modle": {}}, r"unknown config keys \['modle'\]"),
    ({"task": "sudoku", "model": {"vocab_size": 9, "seq_len": 81}, "sampler": {"order": "best"}},
     "unknown order 'best'"),
    ({"task": "sudoku", "model": {"vocab_size": 9, "seq_len": 81, "schedule": "sqrt"}},
     "ModelConfig.schedule: unknown noise schedule"),
    ({"task": "sudoku", "model": {"seq_len": 81}}, "vocab_size"),
])
def test_bad_recipes_are_named(raw, message):
    with pytest.raises(ValueError, match=message):
        Recipe.from_dict(raw)


def test_overrides_parse_as_yaml():
    assert parse_overrides(["train.steps=3", "model.block_size=null", "task=text"]) == {
        "train.steps": 3, "model.block_size": None, "task": "text"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["steps"])


def test_train_config_runs_any_task_and_the_model_keeps_its_recipe(tmp_path, capsys):
    recipe = synthetic_recipe("two-uniform", "vmd").shortened(4)
    recipe = replace(recipe, model=replace(recipe.model, schedule="cosine"))
    path = save_recipe(recipe, tmp_path / "syn.yaml")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 0
    assert "objective (not a bound)" in capsys.readouterr().out
    config, extra = read_config(tmp_path / "run")
    assert config.schedule == "cosine" and Recipe.from_dict(extra["recipe"]) == recipe
    # the saved sampler is the default of `sample`; flags override it
    assert main(["sample", "--model", str(tmp_path / "run"), "--num", "2", "--nfe", "1"]) == 0


def test_train_config_refuses_an_unknown_task(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"task": "chess", "model": {"vocab_size": 3, "seq_len": 4}}))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown task 'chess'" in capsys.readouterr().err
