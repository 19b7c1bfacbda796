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


def test_paired_difference_is_the_independent_one_when_outcomes_are_uncorrelated():
    from maskdiff.stats import paired_share_difference

    # 2x2 table both=20, first only=20, second only=30, neither=30: phi = (600 - 600) / ... = 0
    first = [1] * 20 + [1] * 20 + [0] * 30 + [0] * 30
    second = [1] * 20 + [0] * 20 + [1] * 30 + [0] * 30
    assert paired_share_difference(first, second) == pytest.approx(
        share_difference(40, 100, 50, 100), abs=1e-12)


def test_paired_difference_narrows_when_the_methods_agree_and_covers_the_truth():
    import random

    from maskdiff.stats import paired_share_difference

    # correlated outcomes (mostly the same items solved): narrower than independent samples
    first = [1] * 60 + [1] * 10 + [0] * 2 + [0] * 28
    second = [1] * 60 + [0] * 10 + [1] * 2 + [0] * 28
    diff, low, high = paired_share_difference(first, second)
    _, ilow, ihigh = share_difference(70, 100, 62, 100)
    assert diff == pytest.approx(0.08) and low < 0.08 < high
    assert high - low < 0.6 * (ihigh - ilow)
    # identical outcomes: a difference of exactly 0, far narrower than independent samples
    same = paired_share_difference(first, first)
    _, ilow, ihigh = share_difference(70, 100, 70, 100)
    assert same[0] == 0.0 and same[2] - same[1] < 0.25 * (ihigh - ilow)
    # coverage of a known paired model (true difference 0.1) stays near the nominal 95%
    rng = random.Random(0)
    cells = [(1, 1, 0.5), (1, 0, 0.15), (0, 1, 0.05), (0, 0, 0.3)]
    hits = 0
    for _ in range(2000):
        pairs = rng.choices([c[:2] for c in cells], weights=[c[2] for c in cells], k=150)
        _, lo, hi = paired_share_difference([a for a, _ in pairs], [b for _, b in pairs])
        hits += lo <= 0.1 <= hi
    assert 0.93 <= hits / 2000 <= 0.975
    with pytest.raises(ValueError, match="same items"):
        paired_share_difference([1, 0], [1])
    with pytest.raises(TypeError, match="not strings"):
        paired_share_difference("10", "01")


def _table(both, first_only, second_only, neither):
    first = [1] * both + [1] * first_only + [0] * second_only + [0] * neither
    second = [1] * both + [0] * first_only + [1] * second_only + [0] * neither
    return first, second


@pytest.mark.parametrize("table, expected", [
    # Newcombe (1998b), method 10: 20/12/2/16 of 50 pairs -> 0.0562 to 0.3292
    ((20, 12, 2, 16), (0.0562, 0.3292)),
    # Fagerland et al. (2014): 1/1/7/12 -> -0.507 to -0.026; Tang et al. (2010): 8/3/1/2
    ((1, 1, 7, 12), (-0.507, -0.026)),
    ((8, 3, 1, 2), (-0.1574, 0.4136)),
])
def test_paired_difference_matches_published_values(table, expected):
    from maskdiff.stats import paired_share_difference

    _, low, high = paired_share_difference(*_table(*table))
    assert (low, high) == pytest.approx(expected, abs=5e-4)  # published to 3-4 decimals
