"""The text benchmark's seeds: each row's recipe per seed, and the tables' mean and spread."""

import pytest

from maskdiff.tasks.text.benchmark import headline, markdown_table, over_seeds, row_config


def test_seed_zero_keeps_the_recipe_and_other_seeds_only_change_the_seed():
    base = row_config("bd-b4")
    assert "seed" not in base["train"]  # run folders of earlier seed-0 runs stay valid
    other = row_config("bd-b4", seed=2)
    assert other["train"].pop("seed") == 2 and other == base


def _record(name, seed, ppl, block_size=4, corpus="shakespeare"):
    return dict(name=name, seed=seed, ppl_bound=ppl, corpus=corpus, tokenizer="char",
                method=name, block_size=block_size, num_parameters=500_000, steps=1500,
                tokens_seen=3_072_000, nats_standard_error=0.01)


def test_seeds_merge_into_mean_and_sample_standard_deviation():
    rows = [_record("ar", 0, 5.0, 1)] + [_record("bd-b4", s, p, 4) for s, p in
                                        ((0, 8.0), (1, 8.2), (2, 8.4))]
    merged = {r["name"]: r for r in over_seeds(rows)}
    assert merged["bd-b4"]["ppl_bound"] == pytest.approx(8.2)
    assert merged["bd-b4"]["ppl_bound_sd"] == pytest.approx(0.2)
    assert merged["bd-b4"]["seeds"] == 3 and merged["ar"]["seeds"] == 1
    table = markdown_table(rows)
    assert "| 3 | 8.200 +- 0.200 (+-0.010 nats) | 1.640 |" in table
    assert "| bd-b4 | 8.200 +- 0.200 | 1.640 | 1.104 |" in headline(rows, {})


def test_the_prompted_sample_is_what_the_documented_command_prints(tmp_path, monkeypatch):
    import torch

    from maskdiff.models import MaskedDiffusionModel, ModelConfig, save_model
    from maskdiff.tasks.text.benchmark import _sample_block, prompted_sample
    from maskdiff.tasks.text.tokenizers import char_tokenizer

    monkeypatch.chdir(tmp_path)
    assert prompted_sample(tmp_path / "runs") is None  # no model: no sample
    tok = char_tokenizer()
    folder = tmp_path / "runs" / "block-vmd-b4" / "model"
    torch.manual_seed(0)
    model = MaskedDiffusionModel(ModelConfig(vocab_size=len(tok), seq_len=24, d_model=16,
                                             n_layers=1, n_heads=2, block_size=4))
    save_model(model, folder, extra={"text": {"corpus": "none"}})
    tok.save_pretrained(str(folder / "tokenizer"))
    sample = prompted_sample(tmp_path / "runs", prompt="to be")
    assert sample["command"] == ("maskdiff text generate --model runs/block-vmd-b4/model "
                                 "--prompt 'to be'")
    assert sample["output"].startswith("to be") and len(sample["output"]) <= 24  # the context
    assert "denoiser calls" in sample["summary"]
    block = _sample_block(sample)
    assert f"$ {sample['command']}\n{sample['output']}\n```" in block


def test_where_the_bits_go_compares_block_by_block_over_seeds():
    from maskdiff.tasks.text.benchmark import _bits_by_block

    run = {"passes": 4, "sequences": 256}
    rows = [dict(_record("bd-b4", s, 8.0), loss_by_block={"reconstruction": [3.0, 2.0],
                                                           "kl": [0.0, 0.0], **run}) for s in (0, 1)]
    rows += [dict(_record("block-vmd-b4", s, 9.0), loss_by_block={"reconstruction": [r, 1.5],
                                                                   "kl": [0.5, 0.25], **run})
             for s, r in ((0, 2.0), (1, 3.0))]
    page = _bits_by_block(rows)
    assert "| 0 | 3.000 | 2.500 | 0.500 | 3.000 | +0.000 |" in page  # seeds averaged
    assert "| 1 | 2.000 | 1.500 | 0.250 | 1.750 | -0.250 |" in page
    # reconstruction lower by (2.5 - 2.0) / 2 = 0.5 on average, KL 0.375: a net -0.125
    assert ("changes the reconstruction by -0.500 nats per token and its KL costs 0.375: the "
            "objective ends -0.125") in page
    assert _bits_by_block(rows[:2]) == ""  # no Block-VMD row: no section
    assert "(b=4, standard prior)" in page


def test_budget_rows_scale_only_the_steps_and_show_the_gap_with_compute():
    from maskdiff.tasks.text.benchmark import budget_table

    base, scaled = row_config("mdm"), row_config("mdm-16x")
    assert scaled["train"].pop("steps") == 16 * base["train"].pop("steps") and scaled == base
    rows = [_record("ar", s, 5.0, 1) for s in (0, 1)] + [_record("mdm", 0, 10.0, 64)]
    assert budget_table(rows) == ""  # one budget: no trend to show
    rows += [dict(_record("ar-4x", 0, 4.0, 1), steps=6000), dict(_record("mdm-4x", 0, 6.0, 64),
                                                                 steps=6000)]
    table = budget_table(rows)
    assert "| 1x | 1,500 |" in table and "| 2.000 |" in table
    assert "| 4x | 6,000 |" in table and "| 1.500 |" in table
    assert "mdm-4x" not in markdown_table(rows)  # the main table is the one-budget rows


def test_a_run_of_some_rows_replaces_those_rows_and_keeps_the_others():
    from maskdiff.tasks.text.benchmark import merge_into

    old = [_record("ar", 0, 5.0, 1), _record("bd-b4", 0, 8.0)]
    old_meta = {"command": "python benchmarks/text.py", "date": "2026-11-23", "note": "First.",
                "row_notes": {"bd-b4": "old news", "ar": "still true"},
                "prompted_sample": {"row": "block-vmd-b4"}}
    rows, meta = merge_into([_record("bd-b4", 0, 8.1), _record("bd-b4", 1, 8.3)], {}, old, old_meta)
    assert [(r["name"], r["seed"], r["ppl_bound"]) for r in rows] == [
        ("ar", 0, 5.0), ("bd-b4", 0, 8.1), ("bd-b4", 1, 8.3)]
    assert meta["note"] == ("This command ran bd-b4 seed 0, bd-b4 seed 1; the other rows are from "
                            "earlier runs: `python benchmarks/text.py` on 2026-11-23 (ar seed 0). "
                            "First.")
    assert meta["row_notes"] == {"ar": "still true"}  # a note about a replaced row goes with it
    assert meta["prompted_sample"] == {"row": "block-vmd-b4"}  # kept when this run made none
    # a second partial run names the earlier runs that still own rows, and drops the others
    meta.update(command="python benchmarks/text.py --only bd-b4", date="2026-12-01")
    _, again = merge_into([_record("ar", 0, 5.1, 1)], {}, rows, meta)
    assert again["note"] == ("This command ran ar seed 0; the other rows are from earlier runs: "
                             "`python benchmarks/text.py --only bd-b4` on 2026-12-01 (bd-b4 seed 0, "
                             "bd-b4 seed 1).")


def test_a_run_trains_one_seed_of_the_long_rows_unless_they_are_named():
    from maskdiff.tasks.text.benchmark import _trains

    assert _trains("bd-b4", 2, False, None) and not _trains("ar-16x", 2, False, None)
    assert _trains("ar-16x", 0, False, ["ar-16x"]) and not _trains("ar-16x", 2, False, ["ar-16x"])
    assert _trains("ar-16x", 2, False, ["ar-16x"], seeds_asked=True)  # --only ar-16x --seeds 2
    assert not _trains("ar-16x", 2, False, ["bd-b4"], seeds_asked=True)  # adding seeds elsewhere
    assert not _trains("ar-16x", 0, True, None)  # a smoke run would train the 1x row again
