"""The maths of the ELBO, checked exactly on distributions small enough to enumerate."""

import itertools
import math

import pytest
import torch

from maskdiff import diffusion_loss, exact_elbo, get_schedule
from maskdiff.evaluation import (
    any_order_log_likelihood,
    distribution_metrics,
    marginal_bound,
    perplexity_bound,
)
from maskdiff.process import block_causal_mask

from .conftest import tiny_model

ALL_SEQS = torch.tensor(list(itertools.product(range(3), repeat=3)))


def test_any_order_likelihood_is_a_distribution():
    model = tiny_model(seed=1, scale=4.0)
    total = any_order_log_likelihood(model, ALL_SEQS).exp().sum()
    assert float(total) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elbo_never_below_exact_nll(seed):
    model = tiny_model(seed=seed, scale=4.0)
    nll = -any_order_log_likelihood(model, ALL_SEQS)
    elbo = exact_elbo(model, ALL_SEQS)
    gap = elbo - nll
    assert float(gap.min()) >= -1e-9, f"ELBO below NLL by {float(-gap.min())}"
    assert float(gap.max()) > 1e-4  # the bound is not trivially tight for a random model


def test_elbo_bounds_the_data_entropy():
    model = tiny_model(seed=3, scale=4.0)
    g = torch.Generator().manual_seed(0)
    p_data = torch.rand(len(ALL_SEQS), generator=g, dtype=torch.float64) ** 3
    p_data /= p_data.sum()
    entropy = float(-(p_data * p_data.log()).sum())
    expected_elbo = float((p_data * exact_elbo(model, ALL_SEQS)).sum())
    assert expected_elbo >= entropy


@pytest.mark.parametrize("schedule", ["linear", "cosine", "polynomial"])
def test_monte_carlo_elbo_agrees_with_enumeration(schedule):
    """For a time-agnostic model every schedule has the same ELBO; the sampled estimate (antithetic
    times, t >= t_min) must agree with the exact enumeration."""
    model = tiny_model(seed=4, scale=4.0)
    x = torch.tensor([[0, 2, 1]])
    exact = float(exact_elbo(model, x)) / 3
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        draws = torch.tensor([float(diffusion_loss(model, x.repeat(512, 1), get_schedule(schedule),
                                                   generator=g).bound) for _ in range(40)])
    mean, se = float(draws.mean()), float(draws.std() / math.sqrt(len(draws)))
    assert abs(mean - exact) < 4 * se + 1e-3, (mean, se, exact)


def test_block_size_one_loss_is_autoregressive_cross_entropy():
    model = tiny_model(seed=5, scale=4.0, seq_len=4, block_size=1)
    x = torch.tensor([[2, 0, 1, 1], [1, 1, 0, 2]])
    ar = torch.zeros(2, dtype=torch.float64)
    for i in range(4):  # -log p(x_i | x_<i) with the sampling layout: clean prefix + [MASK]
        prefix = x[:, : i + 1].clone()
        prefix[:, i] = model.mask_id
        logp = torch.log_softmax(model.logits(model.sampling_layout(prefix))[:, -1].double()
                                 .index_fill(-1, torch.tensor([model.mask_id]), -math.inf), -1)
        ar -= logp.detach().gather(-1, x[:, i : i + 1]).squeeze(-1)
    assert torch.allclose(exact_elbo(model, x), ar, atol=1e-9)
    # With the linear schedule the training loss scores every token at t = 1: one draw is exact.
    with torch.no_grad():
        for seed in (0, 1):
            g = torch.Generator().manual_seed(seed)
            once = diffusion_loss(model, x, get_schedule("linear"), generator=g).bound
            assert float(once) * 4 == pytest.approx(float(ar.mean()), abs=1e-5)
    # Other schedules keep the Monte Carlo estimate, which converges to the same number.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        est = sum(float(diffusion_loss(model, x[:1].repeat(1024, 1), get_schedule("cosine"),
                                       generator=g).bound) for _ in range(30)) / 30
    assert est * 4 == pytest.approx(float(ar[0].detach()), rel=0.03)


@pytest.mark.parametrize("block_size", [1, 2, 4])
def test_training_and_sampling_layouts_agree(block_size):
    model = tiny_model(seed=6, scale=2.0, seq_len=4, block_size=block_size)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 3, (5, 4), generator=g)
    xt = torch.where(torch.rand(5, 4, generator=g) < 0.5, torch.tensor(model.mask_id), x0)
    train_logits = model.logits(model.training_layout(xt, x0))
    for k in range(4 // block_size):
        end = (k + 1) * block_size
        prefix = torch.cat([x0[:, : end - block_size], xt[:, end - block_size : end]], dim=1)
        sample_logits = model.logits(model.sampling_layout(prefix))
        assert torch.allclose(train_logits[:, end - block_size : end], sample_logits, atol=1e-5)


def test_block_causal_mask_matches_sampling_layout():
    model = tiny_model(seed=0, seq_len=4, block_size=2)
    layout = model.sampling_layout(torch.zeros(1, 4, dtype=torch.long))
    assert torch.equal(layout.attn_mask, block_causal_mask(4, 2))


def test_exact_tools_refuse_models_they_do_not_apply_to():
    vmd = tiny_model(latent_dim=2)
    with pytest.raises(ValueError, match="time-agnostic"):
        exact_elbo(vmd, ALL_SEQS[:1])


def test_distribution_metrics():
    data = {(0, 1): 0.5, (1, 2): 0.5}
    samples = torch.tensor([[0, 1]] * 50 + [[1, 2]] * 40 + [[2, 2]] * 10)
    m = distribution_metrics(samples, data, num_outcomes=9, smoothing=0.0)
    assert m.accuracy == pytest.approx(0.9)
    assert m.tv == pytest.approx(0.5 * (0 + 0.1 + 0.1))
    assert m.kl == pytest.approx(0.5 * math.log(0.5 / 0.5) + 0.5 * math.log(0.5 / 0.4))


def _vmd_with_mdm_twin(seed=7):
    """A VMD model whose decoder ignores z (zero-initialised modulation), and the MDM with the same
    decoder weights: its marginal denoiser is exactly the MDM's."""
    vmd = tiny_model(seed=seed, scale=4.0, latent_dim=2)
    mdm = tiny_model(seed=seed)
    shared = set(mdm.state_dict())  # everything but the latent's modules and the modulations
    mdm.load_state_dict({k: v for k, v in vmd.state_dict().items() if k in shared})
    return vmd, mdm


def test_marginal_bound_is_the_elbo_of_the_marginal_denoiser():
    from maskdiff.evaluation import marginal_bound

    vmd, mdm = _vmd_with_mdm_twin()
    x = torch.tensor([[0, 2, 1]]).repeat(256, 1)
    exact = float(exact_elbo(mdm, x[:1])) / 3
    mean, se = marginal_bound(vmd, x, get_schedule("linear"), num_latents=2, num_times=30,
                              generator=torch.Generator().manual_seed(0))
    assert abs(mean - exact) < 4 * se + 1e-3, (mean, se, exact)


def test_double_elbo_kl_is_the_encoders_kl_against_the_prior():
    """The objective's KL term is the analytic KL(q(z | x0, xt) || N(0, I)), weighted by w(t) = 1/t
    per block and averaged over tokens, for the very (t, mask) the objective drew."""
    from maskdiff.objectives import noise_batch

    vmd, _ = _vmd_with_mdm_twin()
    x = torch.randint(0, 3, (64, 3), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = diffusion_loss(vmd, x, "linear", generator=torch.Generator().manual_seed(0))
        # The same seed replays the objective's draws: t and the mask come first.
        drawn = noise_batch(vmd, x, "linear", generator=torch.Generator().manual_seed(0))
        q = vmd.posterior(x, drawn.masked)
    # KL of N(m, e^v) from N(0, 1), per dimension, written out here rather than taken from the model.
    kl_per_block = 0.5 * (q.logvar.exp() + q.mean ** 2 - 1.0 - q.logvar).sum(-1)  # (B, 1 block)
    has_masked = drawn.masked.any(-1, keepdim=True)
    expected = float((kl_per_block / drawn.t * has_masked).sum()) / x.numel()
    assert expected > 0.01  # the encoder is far enough from the prior for the check to bite
    assert float(out.kl) == pytest.approx(expected, rel=1e-5)
    assert float(out.bound) == pytest.approx(float(out.nll) + expected, rel=1e-5)



def test_latent_bounds_refuse_models_without_latent():
    from maskdiff.evaluation import importance_weighted_bound, marginal_bound

    x = torch.tensor([[0, 2, 1]])
    for bound in (importance_weighted_bound, marginal_bound):
        with pytest.raises(ValueError, match="VMD models"):
            bound(tiny_model(), x, get_schedule("linear"))


def test_perplexity_bound_is_seeded_and_matches_its_parts():
    model = tiny_model(seed=2, scale=2.0, vocab_size=5, seq_len=8, block_size=4)
    x = torch.randint(0, 5, (10, 8), generator=torch.Generator().manual_seed(0))
    a = perplexity_bound(model, x, get_schedule("linear"), passes=3, batch_size=4, seed=7)
    b = perplexity_bound(model, x, get_schedule("linear"), passes=3, batch_size=4, seed=7)
    assert a == b and a.passes == 3 and a.num_tokens == 80
    assert a.perplexity == pytest.approx(math.exp(a.nats_per_token))
    lo, hi = a.interval()
    assert lo < a.perplexity < hi and a.standard_error > 0
    # AR: every pass is the exact negative log-likelihood, so the passes agree to rounding
    ar = tiny_model(seed=2, scale=2.0, vocab_size=5, seq_len=8, block_size=1)
    r = perplexity_bound(ar, x, get_schedule("linear"), passes=2, batch_size=4)
    assert r.nats_per_token == pytest.approx(float(exact_elbo(ar, x).sum()) / 80, abs=1e-5)
    assert r.standard_error < 1e-6


def test_perplexity_bound_uses_the_valid_bound_for_vmd():
    model = tiny_model(seed=3, vocab_size=5, seq_len=8, block_size=4, latent_dim=2)
    x = torch.randint(0, 5, (6, 8), generator=torch.Generator().manual_seed(1))
    r = perplexity_bound(model, x, get_schedule("linear"), passes=2, num_latents=4, seed=5)
    assert "marginal" in r.kind
    # The number is the marginal bound itself: one draw of t per pass, 4 latents, from one
    # generator seeded with `seed`, the passes averaged.
    g = torch.Generator().manual_seed(5)
    passes = [marginal_bound(model, x, "linear", num_latents=4, num_times=1, generator=g)[0]
              for _ in range(2)]
    assert r.nats_per_token == pytest.approx(sum(passes) / 2, rel=1e-6)
    assert r.standard_error == pytest.approx(abs(passes[0] - passes[1]) / 2, rel=1e-6)
    # ... and not the double-ELBO objective (which is not a bound) for the same seed.
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        objective = [float(diffusion_loss(model, x, "linear", generator=g).bound) for _ in range(2)]
    assert abs(r.nats_per_token - sum(objective) / 2) > 1e-3
    with pytest.raises(ValueError, match="shape"):
        perplexity_bound(model, x[:, :4], get_schedule("linear"))


def test_bounds_default_to_the_model_schedule():
    from maskdiff.evaluation import marginal_bound, monte_carlo_bound

    x = torch.randint(0, 3, (4, 3), generator=torch.Generator().manual_seed(0))
    for bound, overrides in ((monte_carlo_bound, {}), (marginal_bound, dict(latent_dim=2))):
        model = tiny_model(schedule="polynomial", **overrides)
        own = bound(model, x, generator=torch.Generator().manual_seed(1))
        named = bound(model, x, "polynomial", generator=torch.Generator().manual_seed(1))
        other = bound(model, x, "linear", generator=torch.Generator().manual_seed(1))
        assert own == named != other
    ppl = [perplexity_bound(tiny_model(schedule="cosine"), x, s, passes=2).nats_per_token
           for s in (None, "cosine", "linear")]
    assert ppl[0] == ppl[1] != ppl[2]
