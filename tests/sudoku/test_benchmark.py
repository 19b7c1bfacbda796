"""Sudoku benchmark bookkeeping: accuracy counting, the strategy-solvable aggregate, the report,
the plot, and the denoiser timer."""

import pytest
import torch

from maskdiff import MaskedDiffusionModel
from maskdiff.tasks.sudoku import sudoku_model_config
from maskdiff.tasks.sudoku.benchmark import (
    accuracy_rows,
    load_buckets,
    markdown_report,
    measure_throughput,
    plot_accuracy,
)


class OracleModel(MaskedDiffusionModel):
    """Predicts a fixed grid (one-hot logits), whatever it is shown."""

    def __init__(self, grid):
        super().__init__(sudoku_model_config(d_model=16, n_layers=1, n_heads=2))
        self.grid = torch.tensor(grid) - 1

    def logits(self, layout, t=None, z=None, cache=None):
        B = layout.tokens.shape[0]
        out = torch.full((B, 81, 10), -10.0)
        out[:, torch.arange(81), self.grid] = 10.0
        return out


def _buckets():
    pairs = load_buckets(per_bucket=3)["singles"]
    return {"singles": pairs[:2], "guessing": pairs[2:3]}


def test_accuracy_counts_boards_equal_to_the_solution():
    buckets = _buckets()
    solution = buckets["singles"][0][1]
    models = {"oracle": OracleModel(solution)}
    rows = accuracy_rows(models, buckets, nfes=[5], orders=["top-prob-margin"], progress=False)
    acc = {r["bucket"]: (r["accuracy"], r["n"]) for r in rows}
    # The oracle knows only the first puzzle's solution: 1 of 2 singles, 0 of 1 guessing.
    assert acc == {"singles": (0.5, 2), "guessing": (0.0, 1)}
    assert all(r["method"] == "MDM" and r["order"] == "top-prob-margin" and r["nfe"] == 5
               for r in rows)


def test_report_aggregates_singles_and_strategies_and_cites_published_numbers(tmp_path):
    rows = [dict(method="VMD", model="vmd", order="top-prob-margin", nfe=5, best_of=1,
                 bucket=b, accuracy=a, valid=a, n=n, seconds=1.0)
            for b, a, n in (("singles", 1.0, 10), ("strategies", 0.5, 30), ("guessing", 0.2, 10))]
    report = markdown_report(rows, [dict(method="VMD", nfe=20, batch_size=256,
                                         puzzles_per_second=12.5, outside_denoiser_share=0.05,
                                         threads=2)])
    assert "| 5 | top-prob-margin | maskdiff VMD (vmd) | 62.5 | 20.0 |" in report
    assert "| 5 | top-prob-margin | VMD paper, VMD | 96.9 | - |" in report
    assert "| VMD | 20 | 256 | 12.5 | 5.0% | 2 |" in report
    plot_accuracy(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_throughput_splits_time_inside_and_outside_the_denoiser():
    buckets = _buckets()
    model = OracleModel(buckets["singles"][0][1])
    stats = measure_throughput(model, [p for p, _ in buckets["singles"]], nfe=5)
    assert stats["puzzles"] == 2 and 0.0 <= stats["outside_denoiser_share"] <= 1.0


def test_cached_rows_are_reused_only_for_the_same_weights(tmp_path, monkeypatch):
    import maskdiff.tasks.sudoku.benchmark as bench

    buckets = _buckets()
    cache = tmp_path / "rows.jsonl"
    model = OracleModel(buckets["singles"][0][1])
    first = accuracy_rows({"m": model}, buckets, [5], ["top-prob"], progress=False, cache=cache)
    assert len(cache.read_text().splitlines()) == 2

    def refuse(*args, **kwargs):
        raise AssertionError("a cached row was recomputed")

    monkeypatch.setattr(bench, "solve_puzzles", refuse)
    again = accuracy_rows({"m": model}, buckets, [5], ["top-prob"], progress=False, cache=cache)
    assert again == first
    other = OracleModel(buckets["singles"][0][1])
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other.head.bias.add_(1.0)  # one changed weight: the cache must not answer for it
    try:
        accuracy_rows({"m": other}, buckets, [5], ["top-prob"], progress=False, cache=cache)
    except AssertionError as err:
        assert "recomputed" in str(err)
    else:
        raise AssertionError("rows of a different model were taken from the cache")


def test_learning_curves_of_the_models_come_from_their_training_records(tmp_path):
    from maskdiff.tasks.sudoku.benchmark import plot_training_curves, training_curves_table

    training = {"mdm": {"validation_curve": [
        {"step": 500, "samples": 64_000, "solvable@5": 0.25, "solvable@10": 0.5},
        {"step": 1000, "samples": 128_000, "solvable@5": 0.375, "solvable@10": 0.625}]},
        "vmd": None}  # a model saved without a curve has no rows
    table = training_curves_table(training)
    assert table.splitlines()[0] == "| model | step | samples seen | NFE 5 | NFE 10 |"
    assert table.splitlines()[2:] == ["| mdm | 500 | 64,000 | 25.0 | 50.0 |",
                                      "| mdm | 1,000 | 128,000 | 37.5 | 62.5 |"]
    assert training_curves_table({"vmd": None}) == ""
    plot_training_curves(training, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_latent_gap_has_an_interval_and_says_whether_compute_was_equal():
    from maskdiff.stats import share_difference
    from maskdiff.tasks.sudoku.benchmark import latent_gap

    rows = [dict(method=m, model=m.lower(), order="top-prob-margin", nfe=5, best_of=1, bucket=b,
                 accuracy=a, n=100, seconds=1.0)
            for m, a in (("MDM", 0.40), ("VMD", 0.50)) for b in ("singles", "strategies")]
    diff, low, high = share_difference(100, 200, 80, 200)
    assert (f"| 5 | 40.0 | 50.0 | +10.0 [{100 * low:+.1f}, {100 * high:+.1f}] | independent "
            "(conservative) |") in latent_gap(rows)
    assert diff == pytest.approx(0.1) and low < 0.1 < high
    same = {"mdm": {"samples_seen": 1000}, "vmd": {"samples_seen": 1000}}
    assert "Equal training compute: both models saw 1,000" in latent_gap(rows, training=same)
    other = {"mdm": {"samples_seen": 4000}, "vmd": {"samples_seen": 1000}}
    assert "Not at equal training compute: MDM saw 4,000" in latent_gap(rows, training=other)
    assert "compute" not in latent_gap(rows, training={"mdm": None, "vmd": None})


def test_the_latent_gap_pairs_the_puzzles_when_rows_keep_their_outcomes():
    from maskdiff.stats import paired_share_difference, share_difference
    from maskdiff.tasks.sudoku.benchmark import latent_gap

    # Per bucket, VMD solves what MDM solves and 10 more; the buckets differ, and the rows come in
    # different orders for the two models: pairing must go bucket by bucket, puzzle by puzzle.
    solved = {("MDM", "singles"): "1" * 60 + "0" * 40, ("VMD", "singles"): "1" * 70 + "0" * 30,
              ("MDM", "strategies"): "0" * 80 + "1" * 20, ("VMD", "strategies"): "0" * 70 + "1" * 30}
    def rows_of(order):
        return [dict(method=m, model=m.lower(), order="top-prob-margin", nfe=5, best_of=1,
                     bucket=b, accuracy=solved[m, b].count("1") / 100, n=100, seconds=1.0,
                     solved=solved[m, b], puzzles=f"digest-{b}")
                for m, b in order]
    rows = rows_of([("MDM", "strategies"), ("VMD", "singles"), ("MDM", "singles"),
                    ("VMD", "strategies")])
    vmd = [c == "1" for b in ("singles", "strategies") for c in solved["VMD", b]]
    mdm = [c == "1" for b in ("singles", "strategies") for c in solved["MDM", b]]
    diff, low, high = paired_share_difference(vmd, mdm)
    gap = latent_gap(rows)
    assert f"| 5 | 40.0 | 50.0 | +10.0 [{100 * low:+.1f}, {100 * high:+.1f}] | paired" in gap
    # independent samples of the same shares: a wider interval, +0.3 to +19.5 points
    assert low > share_difference(100, 200, 80, 200)[1] + 0.03
    # not the same puzzles (another digest), or a damaged row: the conservative form
    other = [dict(r, puzzles="digest-other") if r["model"] == "vmd" and r["bucket"] == "singles"
             else r for r in rows]
    assert "independent (conservative)" in latent_gap(other)
    rows[0]["solved"] = rows[0]["solved"][:-1]
    assert "independent (conservative)" in latent_gap(rows)
