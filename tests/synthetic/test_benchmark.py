"""The synthetic benchmark's jobs and tables: the one-step recipe's seeds, merged into mean and
spread."""

import pytest

from maskdiff.tasks.synthetic.benchmark import ONE_STEP_SEEDS, headline, jobs_for, over_seeds
from maskdiff.tasks.synthetic.train import ONE_STEP_T_MIN, synthetic_recipe


def test_the_one_step_recipe_runs_on_the_4_token_sets_over_seeds():
    jobs = jobs_for(["d2", "two-uniform"])
    one_step = [j for j in jobs if j["method"] == "vmd-onestep"]
    assert [(j["dataset"], j["blocks"], j["nfes"], j["seed"]) for j in one_step] == [
        ("d2", 2, [2, 4], 0), ("d2", 1, [1, 4], ONE_STEP_SEEDS[0])] + [
        ("d2", 1, [1], s) for s in ONE_STEP_SEEDS[1:]]  # the other seeds: one step only
    assert len(set(ONE_STEP_SEEDS)) >= 3
    assert {j["recipe"]["train"]["seed"] for j in one_step} == set(ONE_STEP_SEEDS)
    train = one_step[0]["recipe"]["train"]
    assert train["t_min"] == ONE_STEP_T_MIN and train["free_bits"] > 0 and train["fit_prior"]
    assert one_step[0]["recipe"]["model"]["prior"] == "mixture"
    # the 2-token sets keep the paper's recipe: one seed, the whole range of t
    plain = [j for j in jobs if j["method"] == "vmd"]
    assert [(j["dataset"], j["seed"]) for j in plain] == [("two-uniform", 0)]
    assert plain[0]["recipe"]["train"]["t_min"] == 1e-4
    assert len([j for j in jobs_for(["d2"], quick=True) if j["method"] == "vmd-onestep"]) == 2


def test_a_bad_method_is_named():
    with pytest.raises(ValueError, match="unknown method 'vmd2'"):
        synthetic_recipe("d2", "vmd2")


def _row(method, seed, accuracy, kl, decoding="sample"):
    return dict(dataset="d2", blocks=1, nfe=1, method=method, decoding=decoding, seed=seed,
                accuracy=accuracy, kl=kl, tv=0.1, factorised_accuracy=0.01,
                paper_accuracy=0.8 if method != "mdm" else 0.011, paper_kl=0.268)


def test_seeds_merge_into_mean_and_sample_standard_deviation():
    rows = [_row("vmd-onestep", s, a, k) for s, a, k in ((0, 0.94, 0.10), (1, 0.96, 0.08),
                                                         (2, 0.95, 0.12))]
    rows.append(_row("vmd", 0, 0.2, 2.5))
    merged = {r["method"]: r for r in over_seeds(rows)}
    one = merged["vmd-onestep"]
    assert one["seeds"] == 3 and one["accuracy"] == pytest.approx(0.95)
    assert one["accuracy_sd"] == pytest.approx(0.01)  # sample (n - 1) standard deviation
    assert one["kl"] == pytest.approx(0.10) and one["kl_sd"] == pytest.approx(0.02)
    assert merged["vmd"]["seeds"] == 1 and "accuracy_sd" not in merged["vmd"]


def test_the_headline_shows_the_one_step_recipe_beside_the_paper():
    rows = [_row("mdm", 0, 0.011, 7.5)]
    rows += [_row("vmd-onestep", s, a, 0.1) for s, a in ((0, 0.94), (1, 0.96))]
    rows += [_row("vmd-onestep", s, 0.99, 0.05, "argmax") for s in (0, 1)]
    line = headline(rows, {}).splitlines()[2]
    assert line == ("| d2 | 1 | 1 | 1.1% (1.0%) | one-step, 2 seeds | 95.0% +- 1.4% (0.100) "
                    "| 99.0% +- 0.0% | 80.0% (0.268) |")


def test_every_set_and_block_count_has_a_recipe_and_the_one_step_settings_apply():
    from maskdiff.tasks.synthetic.train import ONE_STEP_SETTINGS

    jobs = jobs_for(["d1", "d2", "two-uniform", "two-nonuniform"])
    assert {(j["dataset"], j["method"], j["blocks"]) for j in jobs} >= {
        ("d1", "vmd-onestep", 1), ("d1", "vmd-onestep", 2), ("d2", "vmd-onestep", 2),
        ("two-uniform", "vmd", 1), ("two-nonuniform", "mdm", 1)}
    for (name, blocks), settings in ONE_STEP_SETTINGS.items():
        train = synthetic_recipe(name, "vmd-onestep", blocks).train
        assert all(getattr(train, field) == value for field, value in settings.items())
        assert train.lr == 1e-2 and train.free_bits == 1.5  # the rest of the recipe stays
