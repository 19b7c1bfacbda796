import pytest
import torch

from maskdiff import diffusion_loss, get_schedule
from maskdiff.models import DiagonalGaussian

from .conftest import tiny_model


def test_token_ids_outside_vocabulary_are_refused():
    model = tiny_model(vocab_size=5, seq_len=4)
    message = r"must lie in \[0, 5\) \(the model's vocab_size\); got values in \[0, 7\]"
    with pytest.raises(ValueError, match=message):
        diffusion_loss(model, torch.tensor([[0, 1, 7, 2]]), get_schedule("linear"))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        diffusion_loss(model, torch.zeros(2, 5, dtype=torch.long), get_schedule("linear"))


@torch.no_grad()
def test_conditioning_positions_are_not_scored():
    model = tiny_model(vocab_size=5, seq_len=4)
    x0 = torch.tensor([[1, 2, 3, 4]]).repeat(64, 1)
    maskable = torch.tensor([[True, False, False, False]]).repeat(64, 1)
    out = diffusion_loss(model, x0, get_schedule("linear"), maskable=maskable, t=torch.ones(64))
    # at t = 1 only position 0 is masked; the loss is its cross-entropy, per scored token
    logits = model.logits(model.training_layout(torch.tensor([[5, 2, 3, 4]]), x0[:1]))[0, 0, :5]
    expected = -torch.log_softmax(logits, 0)[1]
    assert out.num_tokens == 64
    assert float(out.loss) == pytest.approx(float(expected), rel=1e-5)


@torch.no_grad()
def test_beta_and_free_bits_change_the_loss_not_the_bound():
    model = tiny_model(vocab_size=5, seq_len=4, latent_dim=3)
    x0 = torch.randint(0, 5, (32, 4), generator=torch.Generator().manual_seed(0))
    kw = dict(generator=None, t=torch.full((32,), 0.7))
    outs = {}
    for name, extra in {"beta1": dict(beta=1.0), "beta0": dict(beta=0.0),
                        "free": dict(beta=1.0, free_bits=5.0)}.items():
        torch.manual_seed(0)
        outs[name] = diffusion_loss(model, x0, get_schedule("linear"), **extra, **kw)
    assert float(outs["beta0"].loss) == pytest.approx(float(outs["beta0"].nll))
    assert float(outs["beta1"].loss) == pytest.approx(float(outs["beta1"].bound))
    assert float(outs["free"].loss) > float(outs["beta1"].loss)
    assert float(outs["free"].bound) == pytest.approx(float(outs["beta1"].bound))


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    q = DiagonalGaussian(torch.tensor([[0.5, -1.0]]), torch.tensor([[-0.5, 0.3]]))
    p = DiagonalGaussian(torch.tensor([[0.1, 0.2]]), torch.tensor([[0.2, -0.4]]))
    many = DiagonalGaussian(q.mean.expand(200_000, 2), q.logvar.expand(200_000, 2))
    z = many.sample(g)
    mc = (q.log_prob(z) - p.log_prob(z)).mean()
    assert float(q.kl(p).sum()) == pytest.approx(float(mc), abs=0.01)
    assert float(q.kl(q).abs().max()) < 1e-6


def test_blocks_with_nothing_masked_pay_no_kl():
    model = tiny_model(vocab_size=5, seq_len=4, latent_dim=3, block_size=2)
    x0 = torch.randint(0, 5, (16, 4), generator=torch.Generator().manual_seed(1))
    out = diffusion_loss(model, x0, get_schedule("linear"), maskable=torch.zeros(16, 4, dtype=torch.bool))
    assert float(out.kl) == 0.0 and float(out.nll) == 0.0


@pytest.mark.parametrize("block_size", [1, 2], ids=["autoregressive", "blocks"])
def test_pre_drawn_training_noise_equals_the_loss_own_draws(block_size):
    """The trainer pre-draws noise (draw_training_noise); it must give the loss diffusion_loss
    draws itself, including t = 1 for an autoregressive model (the exact, noise-free ELBO)."""
    from maskdiff.objectives import draw_training_noise

    model = tiny_model(seed=3, scale=2.0, vocab_size=5, seq_len=4, block_size=block_size)
    x0 = torch.randint(0, 5, (8, 4), generator=torch.Generator().manual_seed(0))
    schedule = get_schedule("linear")
    own = diffusion_loss(model, x0, schedule, generator=torch.Generator().manual_seed(1))
    noise = draw_training_noise(model, schedule, 8, generator=torch.Generator().manual_seed(1))
    pre = diffusion_loss(model, x0, schedule, noise=noise)
    assert float(pre.bound) == pytest.approx(float(own.bound), abs=1e-6)
    assert bool((noise.t == 1).all()) == (block_size == 1)


def test_schedule_defaults_to_the_model_schedule():
    model = tiny_model(vocab_size=5, seq_len=4, schedule="cosine")
    x0 = torch.randint(0, 5, (8, 4), generator=torch.Generator().manual_seed(0))

    def bound(*schedule):
        return float(diffusion_loss(model, x0, *schedule,
                                    generator=torch.Generator().manual_seed(1)).bound)

    assert bound() == bound(None) == bound("cosine") == bound(get_schedule("cosine"))
    assert bound() != bound("linear")


@torch.no_grad()
def test_per_cell_weighting_backpropagates_the_plain_mean_and_keeps_the_bound():
    from maskdiff.objectives import noise_batch

    model = tiny_model(seed=2, scale=2.0, vocab_size=5, seq_len=6)
    x0 = torch.randint(0, 5, (16, 6), generator=torch.Generator().manual_seed(0))
    schedule = get_schedule("linear")

    def loss(weighting):
        return diffusion_loss(model, x0, schedule, weighting=weighting,
                              generator=torch.Generator().manual_seed(4))

    elbo, cell = loss("elbo"), loss("per-cell")
    assert float(cell.bound) == pytest.approx(float(elbo.bound), rel=1e-6)
    assert float(cell.nll) == pytest.approx(float(elbo.nll), rel=1e-6)
    noised = noise_batch(model, x0, schedule, generator=torch.Generator().manual_seed(4))
    log_probs = torch.log_softmax(model.logits(noised.layout)[..., :5], -1)
    ce = -log_probs.gather(-1, x0[..., None])[..., 0][noised.masked]
    assert float(cell.loss) == pytest.approx(float(ce.mean()), rel=1e-5)
    assert float(cell.loss) != pytest.approx(float(elbo.loss), rel=1e-3)
    with pytest.raises(ValueError, match="weighting must be one of"):
        loss("uniform")


@torch.no_grad()
def test_a_chosen_state_is_scored_as_drawn_with_t_its_masked_share():
    from maskdiff.objectives import noise_batch

    model = tiny_model(seed=2, scale=2.0, vocab_size=5, seq_len=6)
    x0 = torch.randint(0, 5, (4, 6), generator=torch.Generator().manual_seed(0))
    maskable = torch.tensor([[False, True, True, True, True, True]]).repeat(4, 1)
    masked = torch.tensor([[False, True, False, False, False, False],
                           [False, True, True, False, False, False],
                           [False, True, True, True, True, True],
                           [False, False, False, True, False, True]])
    schedule = get_schedule("linear")
    chosen = noise_batch(model, x0, schedule, maskable=maskable, masked=masked)
    assert torch.equal(chosen.masked, masked)
    assert torch.equal(chosen.xt, torch.where(masked, 5, x0))
    assert chosen.t[:, 0].tolist() == pytest.approx([0.2, 0.4, 1.0, 0.4])
    # Its loss is the ELBO term of that state: w(t) times the masked cells' cross-entropy.
    out = diffusion_loss(model, x0, schedule, maskable=maskable, masked=masked)
    log_probs = torch.log_softmax(model.logits(chosen.layout)[..., :5], -1)
    ce = -log_probs.gather(-1, x0[..., None])[..., 0]
    expected = ((ce * masked).sum(-1) / chosen.t[:, 0]).sum() / maskable.sum()
    assert float(out.bound) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="not maskable"):
        noise_batch(model, x0, schedule, maskable=maskable, masked=~maskable)
    blocks = tiny_model(vocab_size=5, seq_len=6, block_size=3)
    with pytest.raises(ValueError, match="one-block model"):
        noise_batch(blocks, x0, schedule, maskable=maskable, masked=masked)


def test_a_batch_checks_its_chosen_state():
    from maskdiff import Batch

    x0 = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="bool tensor shaped like x0"):
        Batch(x0, masked=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="not maskable"):
        Batch(x0, maskable=torch.zeros(2, 3, dtype=torch.bool), masked=torch.ones(2, 3, dtype=torch.bool))


@pytest.mark.parametrize("prior", ["mixture", "learned"])
def test_under_the_free_bits_floor_fit_prior_moves_only_the_prior(prior):
    model = tiny_model(vocab_size=5, seq_len=4, latent_dim=2, prior=prior)
    x0 = torch.randint(0, 5, (16, 4), generator=torch.Generator().manual_seed(0))
    named = dict(model.named_parameters())
    prior_names = [n for n in named if "prior" in n]
    encoder_names = [n for n in named if "encoder" in n and "prior" not in n]
    assert prior_names and encoder_names
    grads, losses = {}, {}
    for fit in (False, True):
        model.zero_grad()
        torch.manual_seed(0)
        # a floor far above any KL: the KL term holds at the floor for every block
        out = diffusion_loss(model, x0, get_schedule("linear"), free_bits=50.0, fit_prior=fit,
                             t=torch.full((16,), 0.8))
        out.loss.backward()
        losses[fit] = float(out.loss.detach())
        grads[fit] = {n: (named[n].grad.clone() if named[n].grad is not None
                          else torch.zeros_like(named[n])) for n in prior_names + encoder_names}
    assert losses[True] == pytest.approx(losses[False])  # the loss value is unchanged
    # the reconstruction never reaches the prior, and the floor stops the KL's gradient: no
    # learning at all; with fit_prior the prior keeps fitting the posteriors
    assert all(float(grads[False][n].abs().sum()) == 0 for n in prior_names)
    assert any(float(grads[True][n].abs().sum()) > 0 for n in prior_names)
    for n in encoder_names:  # and the encoder is not pulled towards the prior
        torch.testing.assert_close(grads[True][n], grads[False][n])


@pytest.mark.parametrize("latent_dim", [0, 3], ids=["block-diffusion", "block-vmd"])
def test_the_loss_per_block_adds_up_to_the_loss(latent_dim):
    """Split by block, the same Monte Carlo draw's reconstruction and KL sum to diffusion_loss's
    bound; the KL part is zero without a latent and positive with one."""
    from maskdiff.objectives import loss_per_block

    model = tiny_model(seed=2, scale=2.0, vocab_size=5, seq_len=8, block_size=2,
                       latent_dim=latent_dim)
    x0 = torch.randint(0, 5, (16, 8), generator=torch.Generator().manual_seed(0))
    whole = diffusion_loss(model, x0, generator=torch.Generator().manual_seed(4))
    parts = loss_per_block(model, x0, generator=torch.Generator().manual_seed(4))
    assert parts.reconstruction.shape == parts.kl.shape == (4,)
    per_token = (parts.reconstruction + parts.kl).sum() * 2 / 8 / parts.sequences
    assert float(per_token) == pytest.approx(float(whole.bound), rel=1e-5)
    assert float(parts.kl.sum() * 2 / 8 / 16) == pytest.approx(float(whole.kl), rel=1e-5, abs=1e-9)
    assert (float(parts.kl.min()) > 0) == bool(latent_dim)
