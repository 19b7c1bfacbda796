"""The latent priors: the mixture's density and sampling, Monte Carlo KLs against exact ones, and
the marginal bound of every prior never below the exact NLL of what it bounds."""

import itertools
import math

import pytest
import torch

from maskdiff import get_schedule
from maskdiff.evaluation import marginal_bound
from maskdiff.models import DiagonalGaussian, GaussianMixture
from maskdiff.models.latent import latent_kl

from .conftest import tiny_model


def _mixture():
    return GaussianMixture(torch.tensor([0.0, 1.0, -1.0]),
                           torch.tensor([[0.0, 0.0], [3.0, -1.0], [-2.0, 2.0]]),
                           torch.tensor([[0.0, 0.0], [-1.0, 0.5], [0.3, -0.3]]))


def test_mixture_density_is_the_weighted_sum_of_its_components():
    mix, z = _mixture(), torch.tensor([[0.5, -0.2], [2.5, -1.0]])
    weights = mix.logits.softmax(-1)
    by_hand = sum(weights[k] * DiagonalGaussian(mix.means[k], mix.logvars[k]).log_prob(z).exp()
                  for k in range(3))
    assert torch.allclose(mix.log_prob(z), by_hand.log(), atol=1e-6)
    assert torch.allclose(mix.mean, (weights[:, None] * mix.means).sum(0))


def test_mixture_samples_follow_its_density():
    mix = _mixture()
    many = GaussianMixture(mix.logits.expand(40_000, 3), mix.means.expand(40_000, 3, 2),
                           mix.logvars.expand(40_000, 3, 2))
    z = many.sample(torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mix.mean, atol=0.05)
    # the share of draws nearest each component's mean tracks its weight
    nearest = torch.cdist(z, mix.means).argmin(-1)
    shares = torch.bincount(nearest, minlength=3).float() / len(z)
    assert torch.allclose(shares, mix.logits.softmax(-1), atol=0.05)


def test_monte_carlo_kl_to_a_one_component_mixture_matches_the_exact_kl():
    q = DiagonalGaussian(torch.tensor([[0.4, -1.0]]).expand(100_000, 2),
                         torch.tensor([[-0.5, 0.2]]).expand(100_000, 2))
    p = DiagonalGaussian(torch.tensor([[0.1, 0.3]]), torch.tensor([[0.2, -0.1]]))
    as_mixture = GaussianMixture(torch.zeros(100_000, 1), p.mean.expand(100_000, 2)[:, None],
                                 p.logvar.expand(100_000, 2)[:, None])
    torch.manual_seed(0)
    estimate = latent_kl(q, as_mixture).mean()
    assert latent_kl(q, p).shape == (100_000, 2)  # a Gaussian prior: exact, per dimension
    assert float(estimate) == pytest.approx(float(q.kl(p)[0].sum()), abs=0.02)


def test_the_learned_priors_kl_matches_a_monte_carlo_estimate():
    model = tiny_model(seed=2, vocab_size=3, seq_len=4, latent_dim=2, block_size=2, prior="learned")
    with torch.no_grad():  # a prior that is not N(0, I)
        model.prior_net.head.weight.normal_(0, 0.5)
    x0 = torch.tensor([[0, 1, 2, 0]])
    masked = torch.tensor([[False, False, True, True]])
    layout = model.training_layout(torch.where(masked, 3, x0), x0)
    q, p = model.posterior(x0, masked), model.prior(layout)
    many = DiagonalGaussian(q.mean.expand(200_000, -1, -1), q.logvar.expand(200_000, -1, -1))
    z = many.sample(torch.Generator().manual_seed(1))
    monte_carlo = (many.log_prob(z) - p.log_prob(z)).mean(0)  # per block
    assert torch.allclose(q.kl(p).sum(-1)[0].detach(), monte_carlo.detach(), rtol=0.02)


def _marginal_nll(model, x0, draws=4000):
    """-log p(x0) per token of the masked diffusion whose denoiser is the marginal over the prior,
    p(x^i | xt) = E_p(z) p(x^i | xt, z): exact over unmasking orders, the expectation over z by
    `draws` prior samples (one block, L = 3)."""
    cfg, g = model.config, torch.Generator().manual_seed(7)
    L, total = cfg.seq_len, 0.0
    for order in itertools.permutations(range(L)):
        prob, xt = 1.0, torch.full((1, L), cfg.mask_id)
        for i in order:
            layout = model.sampling_layout(xt.expand(draws, L))
            z = model.prior(layout).sample(g)
            probs = model.logits(layout, None, z)[..., :cfg.vocab_size].softmax(-1)
            prob *= float(probs[:, i, x0[i]].mean())
            xt = xt.clone()
            xt[0, i] = x0[i]
        total += prob / math.factorial(L)
    return -math.log(total) / L


@pytest.mark.parametrize("prior", ["standard", "mixture", "learned"])
@torch.no_grad()
def test_the_marginal_bound_of_every_prior_never_undercuts_the_exact_nll(prior):
    model = tiny_model(seed=3, scale=3.0, latent_dim=2, prior=prior, prior_components=3)
    for name, param in model.named_parameters():  # make the decoder and the prior read z
        if "latent_proj" in name or "prior_net.head" in name or "trunk" in name and "mod" in name:
            param.normal_(0, 0.7)
    x0 = torch.tensor([0, 2, 1])
    exact = _marginal_nll(model, x0)
    mean, se = marginal_bound(model, x0[None].repeat(256, 1), get_schedule("linear"),
                              num_latents=4, num_times=20, generator=torch.Generator().manual_seed(0))
    assert mean + 4 * se >= exact, (prior, mean, se, exact)
