"""The Sudoku training recipe: record, resume, validation cache, errors."""

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from maskdiff.models import read_config
from maskdiff.tasks.sudoku import load_sudoku_model
from maskdiff.tasks.sudoku.cli import shipped_name
from maskdiff.tasks.sudoku.model import SHIPPED_DIR
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
    # each shipped model was trained by the recipe its training record names (older models,
    # saved before records named one, by the recipe of their kind)
    for kind in ("mdm", "vmd"):
        record = read_config(SHIPPED_DIR / kind)[1].get("training") or {}
        name = record.get("recipe_name") or kind
        assert shipped_name(name) == kind
        assert load_sudoku_model(kind).config == RECIPES[name].model


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
    saved = read_config(out / "model")[1]["training"]
    assert saved["steps"] == 4
    # the learning curve travels with the model: both evaluations, the one before the resume too
    curve = saved["validation_curve"]
    assert [(c["step"], c["samples"]) for c in curve] == [(2, 8), (4, 16)]
    assert [{k: v for k, v in c.items() if k not in ("step", "samples")} for c in curve] == [
        h["eval"] for h in history if "eval" in h]


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


def _strategy_pairs(count=6):
    return load_test_set(Path(__file__).resolve().parents[2] / "tasks" / "sudoku" / "data"
                         / "strategies.csv")[:count]


@pytest.mark.parametrize("kind", ["bare", "solver", "random"])
def test_chosen_puzzle_states_never_mask_a_given_and_always_leave_work(kind):
    import torch

    from maskdiff.tasks.sudoku.train import PuzzleSource

    source = PuzzleSource(_strategy_pairs(), reveal={kind: 1.0}, random_mask=(0.4, 1.0))
    batch = source.sample(96, torch.Generator().manual_seed(0))
    assert batch.masked is not None
    assert not bool((batch.masked & ~batch.maskable).any())  # givens never masked
    assert bool(batch.masked.any(-1).all())  # every state has something left to score
    share = batch.masked.sum(-1) / batch.maskable.sum(-1)
    if kind == "bare":
        assert torch.equal(batch.masked, batch.maskable)
    elif kind == "random":
        assert float(share.min()) > 0.15 and float(share.mean()) == pytest.approx(0.7, abs=0.08)
    else:
        assert float(share.std()) > 0.2  # a uniform number of reveals, not a fixed one


def test_solver_states_reveal_cells_in_the_solver_order():
    import torch

    from maskdiff.tasks.sudoku.generate import fill_rounds
    from maskdiff.tasks.sudoku.train import PuzzleSource

    # Singles puzzles: their parallel-solver rounds do not depend on the cells' numbering, so the
    # rounds of each augmented puzzle can be recomputed from the batch itself.
    pairs = load_test_set(Path(__file__).resolve().parents[2] / "tasks" / "sudoku" / "data"
                          / "singles.csv")[:4]
    batch = PuzzleSource(pairs, reveal={"solver": 1.0}).sample(48, torch.Generator().manual_seed(1))
    partial = 0
    for x0, maskable, masked in zip(batch.x0.tolist(), batch.maskable.tolist(),
                                    batch.masked.tolist()):
        solution = [v + 1 for v in x0]
        puzzle = [v if not blank else 0 for v, blank in zip(solution, maskable)]
        rounds = fill_rounds(puzzle, solution)
        hidden = [r for r, m in zip(rounds, masked) if m]
        shown = [r for r, m, blank in zip(rounds, masked, maskable) if blank and not m]
        assert hidden and (not shown or max(shown) <= min(hidden))
        partial += bool(shown)
    assert partial > 30  # most states have some blanks revealed


def test_data_section_errors_name_the_field():
    from maskdiff.tasks.sudoku.train import SudokuData

    with pytest.raises(ValueError, match="data.reveal needs data.source 'pool'"):
        SudokuData(reveal={"random": 1.0})
    with pytest.raises(ValueError, match="data.reveal must map some of"):
        SudokuData(source="pool", reveal={"confidence": 1.0})
    with pytest.raises(ValueError, match="shares must be >= 0 and not all 0"):
        SudokuData(source="pool", reveal={"random": 0})
    with pytest.raises(ValueError, match="data.random_mask"):
        SudokuData(source="pool", random_mask=(0.8, 0.2))
    with pytest.raises(ValueError, match="data.validation must be one of"):
        SudokuData(validation="test")
    with pytest.raises(ValueError, match="data.validation_nfes"):
        SudokuData(validation_nfes=[0])


def test_a_reveal_mixture_recipe_trains_and_validates_on_the_pool_tail(tmp_path):
    from maskdiff.tasks.sudoku.pool import build_pool
    from maskdiff.tasks.sudoku.train import SudokuData

    pool = tmp_path / "pool.csv"
    build_pool(pool, 8, workers=1, progress=False)
    recipe = RECIPES["mdm-pool"]
    data = SudokuData(source="pool", pool=str(pool), pool_size=6, validation="pool",
                      validation_size=2, validation_nfes=[5, 10],
                      reveal={"bare": 1, "solver": 1, "random": 2})
    from dataclasses import asdict
    recipe = replace(recipe, data=asdict(data),
                     train=replace(recipe.train, batch_size=4, eval_every=2, warmup_steps=1,
                                   loss_weighting="per-cell"))
    _, record = train_sudoku("mdm-pool", tmp_path / "run", steps=2, recipe=recipe, progress=False)
    assert set(record["final_eval"]) >= {"solved@5", "solved@10", "cell_acc@1", "last_blank@1"}
    assert record["train_config"]["loss_weighting"] == "per-cell"
    saved = read_config(tmp_path / "run" / "model")[1]["recipe"]
    assert saved["data"]["reveal"] == {"bare": 1, "solver": 1, "random": 2}
    too_small = replace(recipe, data={**asdict(data), "validation_size": 5})
    with pytest.raises(ValueError, match="holds 8 puzzles, the recipe asks for 11"):
        train_sudoku("mdm-pool", tmp_path / "other", steps=1, recipe=too_small, progress=False)


def test_fill_rounds_computed_up_front_equal_the_lazy_ones():
    import torch

    from maskdiff.tasks.sudoku.train import PuzzleSource

    pairs = _strategy_pairs(4)
    lazy, eager = PuzzleSource(pairs, {"solver": 1.0}), PuzzleSource(pairs, {"solver": 1.0})
    eager.precompute_rounds(workers=2)
    assert torch.equal(eager.rounds, lazy.fill_rounds(torch.arange(4)))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(eager.sample(16, g1).masked, lazy.sample(16, g2).masked)


def test_near_complete_states_leave_exactly_k_blanks_of_the_puzzle_and_copy_the_rest():
    from maskdiff.tasks.sudoku.benchmark import load_buckets
    from maskdiff.tasks.sudoku.model import MASK_ID, board_to_tokens
    from maskdiff.tasks.sudoku.train import near_complete_states

    pairs = load_buckets(per_bucket=4)["singles"]
    states, solutions = near_complete_states(pairs, left=3, seed=1)
    puzzles = board_to_tokens([p for p, _ in pairs])
    left = states == MASK_ID
    assert left.sum(-1).tolist() == [3] * len(pairs)
    assert not (left & (puzzles != MASK_ID)).any()  # only the puzzle's blanks are left
    assert torch.equal(states[~left], solutions[~left])
    assert torch.equal(near_complete_states(pairs, left=3, seed=1)[0], states)  # seeded
    with pytest.raises(ValueError, match="fewer than left=90"):
        near_complete_states(pairs, left=90)
    bare, _ = near_complete_states(pairs, left=None)  # every blank left: the puzzles themselves
    assert torch.equal(bare, puzzles)


class _HalfRightOracle(torch.nn.Module):
    """A stand-in denoiser: the true digit at even cells, a wrong one at odd cells; with a latent,
    it records the arguments of the posterior draw."""

    def __init__(self, solutions, is_vmd=False):
        super().__init__()
        self.solutions, self.weight = solutions, torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(is_vmd=is_vmd, vocab_size=9)
        self.posterior_args = None

    def sampling_layout(self, states):
        return states

    def sample_prior(self, layout, generator):
        return torch.ones(len(layout), 1, 4)

    def sample_posterior(self, x0, masked, generator):
        self.posterior_args = (x0, masked)
        return torch.ones(len(x0), 1, 4)

    def logits(self, layout, t, z):
        digit = torch.where(torch.arange(81) % 2 == 0, self.solutions, (self.solutions + 1) % 9)
        # the [MASK] logit is highest: only the vocabulary's argmax may count
        return torch.nn.functional.one_hot(digit, 10).float() + 2.0 * (torch.arange(10) == 9)


def test_near_complete_accuracy_scores_only_the_cells_left_with_the_chosen_latent():
    from maskdiff.tasks.sudoku.benchmark import load_buckets
    from maskdiff.tasks.sudoku.model import MASK_ID
    from maskdiff.tasks.sudoku.train import near_complete_accuracy, near_complete_states

    pairs = load_buckets(per_bucket=10)["singles"]
    states, solutions = near_complete_states(pairs, left=5, seed=3)
    left = states == MASK_ID
    even = (torch.arange(81) % 2 == 0).expand_as(left)
    expected = float((left & even).sum() / left.sum())  # the oracle is right at even cells only
    assert 0 < expected < 1
    oracle = _HalfRightOracle(solutions)
    assert near_complete_accuracy(oracle, pairs, left=5, seed=3) == pytest.approx(expected)
    vmd = _HalfRightOracle(solutions, is_vmd=True)
    assert near_complete_accuracy(vmd, pairs, left=5, seed=3, latent="posterior") == \
        pytest.approx(expected)
    x0, masked = vmd.posterior_args  # q(z | x0, xt) reads the solution and the cells left
    assert torch.equal(x0, solutions) and torch.equal(masked, left)
    with pytest.raises(ValueError, match="latent must be"):
        near_complete_accuracy(vmd, pairs, latent="mean")
    with pytest.raises(ValueError, match="at least 1 blank"):
        near_complete_accuracy(oracle, pairs, left=0)


def test_shipped_models_get_every_last_blank_right():
    from maskdiff.tasks.sudoku.benchmark import load_buckets
    from maskdiff.tasks.sudoku.train import near_complete_accuracy

    pairs = load_buckets(per_bucket=10)["singles"]
    # one blank left: the digit is forced by its peers (a VMD trained only on heavily masked
    # boards got a third of these)
    for name in ("mdm", "vmd"):
        assert near_complete_accuracy(load_sudoku_model(name), pairs, left=1) == 1.0, name
