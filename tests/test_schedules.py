import pytest
import torch

from maskdiff.schedules import SCHEDULES, get_schedule


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_alpha_endpoints_and_monotone(name):
    s = get_schedule(name)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    a = s.alpha(t)
    assert float(a[0]) == pytest.approx(1.0)
    assert float(a[-1]) < 1e-2
    assert bool((a[1:] <= a[:-1]).all())


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_weight_matches_finite_difference(name):
    s = get_schedule(name)
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    derivative = (s.alpha(t + h) - s.alpha(t - h)) / (2 * h)
    assert torch.allclose(s.alpha_prime(t), derivative, rtol=1e-5, atol=1e-7)
    assert torch.allclose(s.weight(t), -derivative / (1 - s.alpha(t)), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_time_at_inverts_alpha(name):
    s = get_schedule(name)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(s.time_at(s.alpha(t)), t, atol=1e-6, rtol=0)
    torch.testing.assert_close(s.time_at_mask_prob(s.mask_prob(t)), t, atol=1e-6, rtol=0)
    alpha = s.alpha(torch.linspace(0, 1, 57, dtype=torch.float64))
    torch.testing.assert_close(s.alpha(s.time_at(alpha)), alpha, atol=1e-12, rtol=0)


def test_linear_time_of_a_mask_fraction_is_the_fraction_itself():
    p = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(get_schedule("linear").time_at_mask_prob(p), p)


def test_time_at_stays_in_the_unit_interval():
    # log-linear never masks more than 1 - eps: a larger mask fraction maps to t = 1
    p = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    for name in SCHEDULES:
        t = get_schedule(name).time_at_mask_prob(p)
        assert float(t[0]) == 0.0 and float(t[-1]) == pytest.approx(1.0)


def test_linear_weight_is_one_over_t():
    t = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(get_schedule("linear").weight(t), 1 / t)


def test_unmask_probability_reaches_one_at_zero():
    s = get_schedule("cosine")
    p = s.unmask_prob(torch.tensor(0.5, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64))
    assert float(p) == pytest.approx(1.0)


def test_unknown_schedule_names_the_problem():
    with pytest.raises(ValueError, match="unknown noise schedule 'sqrt'"):
        get_schedule("sqrt")


def test_bad_parameters_rejected():
    with pytest.raises(ValueError, match="power"):
        get_schedule("polynomial", power=0)
    with pytest.raises(ValueError, match="eps"):
        get_schedule("log-linear", eps=1.5)
