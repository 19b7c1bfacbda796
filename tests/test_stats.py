import pytest

from maskdiff.stats import share_difference, wilson


def test_wilson_matches_published_values():
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_share_difference_matches_newcombes_worked_example():
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80 -> 0.0524 to 0.3339 (method 10)
    diff, low, high = share_difference(56, 70, 48, 80)
    assert diff == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # swapping the two groups mirrors the interval
    back = share_difference(48, 80, 56, 70)
    assert back == pytest.approx((-0.2, -0.3339, -0.0524), abs=1e-4)
