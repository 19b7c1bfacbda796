"""The one-step ablation: arms are cumulative, branches sit on the last kept arm, and an arm runs
end to end into a row with its diagnostics."""

import math

import pytest

from maskdiff.tasks.synthetic.ablation import ARMS, BRANCHES, _run_arm, arm_recipe
from maskdiff.tasks.synthetic.train import synthetic_recipe


def test_each_arm_adds_its_change_to_the_arm_above():
    base = synthetic_recipe("d2", "vmd", 1)
    assert arm_recipe("vmd") == base
    t_focus, mixture = arm_recipe("t-focus"), arm_recipe("mixture")
    assert t_focus.train.t_min == 0.9 and t_focus.model.prior == "standard"
    assert mixture.train.t_min == 0.9 and mixture.model.prior == "mixture"
    last = arm_recipe(list(ARMS)[-1])
    # the last kept arm is the one-step recipe's model and training, at the ablation's steps
    one_step = synthetic_recipe("d2", "vmd-onestep", 1)
    assert last.model == one_step.model
    assert (last.train.t_min, last.train.free_bits, last.train.lr) == (
        one_step.train.t_min, one_step.train.free_bits, one_step.train.lr)
    for branch in BRANCHES:
        recipe = arm_recipe(branch)
        assert recipe.model == last.model and recipe.train != last.train
    with pytest.raises(ValueError, match="unknown arm 'nope'"):
        arm_recipe("nope")


def test_an_arm_runs_into_a_row_with_diagnostics():
    row = _run_arm({"arm": "mixture", "change": "x", "samples": 200,
                    "recipe": arm_recipe("mixture", steps=5).to_dict()})
    assert row["steps"] == 5
    for key in ("sample_accuracy", "argmax_accuracy"):
        assert 0 <= row[key] <= 1
    assert row["sample_kl"] >= 0 and 0 <= row["active_units"] <= 4
    assert 0 <= row["mutual_information"] <= math.log(400) + 1e-4  # the estimate's ceiling
