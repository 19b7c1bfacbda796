"""Reliability tables: bins, accuracy per bin, the expected calibration error."""

import math

import pytest
import torch

from maskdiff.calibration import expected_calibration_error, plot_reliability, reliability


def test_bins_hold_the_right_tokens_and_nan_is_left_out():
    confidence = torch.tensor([0.05, 0.15, 0.95, 0.99, math.nan])
    correct = torch.tensor([False, True, True, False, True])
    rows = reliability(confidence, correct, bins=10)
    assert [r["count"] for r in rows] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rows[9]["accuracy"] == 0.5 and rows[9]["confidence"] == pytest.approx(0.97)
    assert rows[2]["accuracy"] is None


def test_a_calibrated_model_has_a_small_error_and_an_overconfident_one_does_not():
    g = torch.Generator().manual_seed(0)
    confidence = torch.rand(20_000, generator=g)
    calibrated = torch.rand(20_000, generator=g) < confidence
    assert expected_calibration_error(reliability(confidence, calibrated)) < 0.02
    overconfident = torch.rand(20_000, generator=g) < confidence / 2
    assert expected_calibration_error(reliability(confidence, overconfident)) > 0.2


def test_bad_input_is_named_and_the_diagram_is_written(tmp_path):
    with pytest.raises(ValueError, match="must have one shape"):
        reliability(torch.rand(3), torch.ones(4, dtype=torch.bool))
    rows = reliability(torch.tensor([0.2, 0.8]), torch.tensor([False, True]))
    assert plot_reliability({"m": rows}, tmp_path / "r.png").stat().st_size > 0
