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


def _yaml_recipe(tmp_path, train_lines: str):
    path = tmp_path / "recipe.yaml"
    path.write_text("task: synthetic\nmodel: {vocab_size: 3, seq_len: 2}\ndata: {dataset: d1}\n"
                    "train:\n" + "".join(f"  {line}\n" for line in train_lines.splitlines()))
    return path


@pytest.mark.parametrize("line,message", [
    ('lr: "abc"', "train.lr must be a number, got the string 'abc'"),
    ("steps: 1.5", "train.steps must be a whole number, got 1.5"),
    ("steps: true", "train.steps must be a whole number, got true"),
    ('progress: "no"', "train.progress must be true or false, got the string 'no'"),
    ("mixed_precision: yes", "train.mixed_precision must be a string, got true"),
    ("log_with: 3", "train.log_with must be a string or a list or null, got 3"),
])
def test_wrong_types_in_a_recipe_file_are_named_with_the_file(tmp_path, capsys, line, message):
    path = _yaml_recipe(tmp_path, line)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    assert f"maskdiff: error: {path}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_yaml_spellings_of_numbers_and_no_are_read_as_meant(tmp_path):
    """YAML 1.1 reads 1e-3 as a string and a bare `no` as false: a float field converts the
    string, a string field reads false as "no"; booleans stay booleans."""
    recipe = load_recipe(_yaml_recipe(tmp_path, "lr: 1e-3\nmixed_precision: no\nprogress: no\n"
                                                "grad_clip: 2"))
    assert recipe.train.lr == 0.001 and recipe.train.mixed_precision == "no"
    assert recipe.train.progress is False and recipe.train.grad_clip == 2.0


def test_list_items_are_checked_by_position():
    raw = {"task": "sudoku", "model": {"vocab_size": 9, "seq_len": 2, "position_groups": [[0, "a"]]}}
    with pytest.raises(ValueError, match=r"recipe: model.position_groups\[0\]\[1\] must be a whole "
                                         "number, got the string 'a'"):
        Recipe.from_dict(raw)


@pytest.mark.parametrize("key,section", [("foo=1", "foo"), ("trian.steps=3", "trian")])
def test_an_unknown_set_section_is_blamed_on_set(tmp_path, capsys, key, section):
    path = _yaml_recipe(tmp_path, "steps: 2")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run"),
                 "--set", key]) == 2
    err = capsys.readouterr().err
    assert (f"--set {key.split('=')[0]}: unknown recipe section {section!r} (the key comes from "
            "--set, not from the config file); valid sections: model, train, sampler, data, eval"
            in err)
    assert str(path) not in err
