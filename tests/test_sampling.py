import pytest
import torch

from maskdiff import SamplerConfig, generate, get_schedule
from maskdiff.sampling import ORDERS, commit_counts, register_order

from .conftest import tiny_model


class CallCounter:
    """Counts denoiser calls through a forward hook on the trunk (passes that only fill the KV
    cache with finished blocks are counted apart, as cache_fills)."""

    def __init__(self, model):
        self.calls = self.cache_fills = 0
        model.trunk.register_forward_hook(self.bump, with_kwargs=True)

    def bump(self, module, args, kwargs, output):
        if kwargs.get("extend_cache"):
            self.cache_fills += 1
        else:
            self.calls += 1


def _puzzle(model, batch=6, seed=0, given_rate=0.3):
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    x0 = torch.randint(0, cfg.vocab_size, (batch, cfg.seq_len), generator=g)
    given = torch.rand(batch, cfg.seq_len, generator=g) < given_rate
    return torch.where(given, x0, torch.tensor(cfg.mask_id)), given


def test_prior_policy_needs_learned_prior():
    model = tiny_model(vocab_size=5, seq_len=8, latent_dim=4)
    with pytest.raises(ValueError, match="learned prior"):
        generate(model, batch_size=2, config=SamplerConfig(nfe=2, z_policy="prior"))


def test_different_latents_give_different_samples():
    model = tiny_model(vocab_size=5, seq_len=8, latent_dim=4, scale=3.0)
    with torch.no_grad():  # make the latent matter
        model.latent_proj[2].weight.normal_(0, 3.0)
        for block in model.trunk.blocks:
            block.modulation.weight.normal_(0, 1.0)
    a = generate(model, batch_size=16, config=SamplerConfig(nfe=1),
                 generator=torch.Generator().manual_seed(0)).tokens
    assert len({tuple(r) for r in a.tolist()}) > 1  # greedy tokens, so diversity comes from z


@pytest.mark.parametrize("schedule", ["linear", "cosine", "polynomial", "log-linear"])
def test_time_conditioned_model_reads_the_time_of_its_schedule(schedule):
    """Confidence decoding feeds t with 1 - alpha(t) = the block's masked fraction."""
    model = tiny_model(vocab_size=5, seq_len=8, time_conditioning=True, schedule=schedule)
    seen, logits = [], model.logits
    model.logits = lambda layout, t, *rest: seen.append(t) or logits(layout, t, *rest)
    generate(model, batch_size=2, config=SamplerConfig(nfe=4))
    fractions = torch.tensor([1.0, 0.75, 0.5, 0.25])
    model_schedule = get_schedule(schedule)
    expected = model_schedule.time_at_mask_prob(fractions)
    assert torch.equal(torch.stack([t[0, 0] for t in seen]), expected)
    assert float(model_schedule.mask_prob(expected[2])) == pytest.approx(0.5)


def test_one_token_per_step_by_default():
    model = tiny_model(vocab_size=5, seq_len=8)
    x_init, _ = _puzzle(model, batch=1, given_rate=0.25)
    out = generate(model, x_init)
    assert out.nfe == int((x_init == model.mask_id).sum())


def test_commit_counts_sum_and_are_positive():
    n = torch.tensor([5, 7, 12, 30])
    c = commit_counts(n, 5)
    assert torch.equal(c.sum(-1), n) and bool((c >= 1).all())


def test_nfe_errors_name_the_problem():
    model = tiny_model(vocab_size=5, seq_len=8)
    with pytest.raises(ValueError, match="nfe must be an integer >= 1"):
        SamplerConfig(nfe=0)
    with pytest.raises(ValueError, match="only 3 masked tokens"):
        x = torch.tensor([[0, 1, 2, 3, 4, 5, 5, 5]])
        generate(model, x, config=SamplerConfig(nfe=4))
    block_model = tiny_model(vocab_size=5, seq_len=8, block_size=2)
    with pytest.raises(ValueError, match="below the number of blocks"):
        generate(block_model, batch_size=1, config=SamplerConfig(nfe=3))


def test_bad_inputs_name_the_problem():
    model = tiny_model(vocab_size=5, seq_len=8)
    with pytest.raises(ValueError, match="unknown order 'best'"):
        SamplerConfig(order="best")
    with pytest.raises(ValueError, match=r"expected token ids of shape \(batch, 8\)"):
        generate(model, torch.zeros(2, 7, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\]"):
        generate(model, torch.full((1, 8), 9))


@pytest.mark.parametrize("overrides", [
    dict(), dict(latent_dim=4), dict(time_conditioning=True),
    dict(latent_dim=4, latent_injection="embedding"), dict(n_loops=3),
    dict(latent_dim=4, prior="learned", prior_layers=2), dict(latent_dim=4, prior="mixture")],
    ids=["bd", "block-vmd", "time", "embed", "looped", "learned-block-prior", "mixture-prior"])
def test_kv_cache_decodes_exactly_like_recomputing_the_prefix(overrides):
    model = tiny_model(vocab_size=7, seq_len=16, d_model=32, n_heads=2, n_layers=2, block_size=4,
                       scale=3.0, **overrides)
    with torch.no_grad():  # a non-trivial network: perturb every weight
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x_init, _ = _puzzle(model, batch=3, given_rate=0.0)
    x_init[:, :4] = 2  # a clean first block: a prompt that is cached in one pass
    x_init[0, 9] = 1  # and one given inside a later block
    runs = []
    for kv_cache in (True, False):
        counter = CallCounter(model)
        cfg = SamplerConfig(nfe=6, temperature=1.0, kv_cache=kv_cache)
        out = generate(model, x_init, config=cfg, generator=torch.Generator().manual_seed(5))
        runs.append((out, counter.calls, counter.cache_fills))
        model.trunk._forward_hooks.clear()
    (cached, calls_c, fills), (plain, calls_p, no_fills) = runs
    assert torch.equal(cached.tokens, plain.tokens)
    assert cached.nfe == plain.nfe == calls_c == calls_p == 6
    assert fills == 3 and no_fills == 0  # the prompt block, then blocks 1 and 2 once finished


def test_cached_logits_match_the_full_prefix():
    model = tiny_model(vocab_size=7, seq_len=12, d_model=32, n_heads=2, n_layers=3, block_size=4,
                       latent_dim=3)
    x = torch.randint(0, 7, (2, 12), generator=torch.Generator().manual_seed(0))
    x[:, 9:] = model.mask_id
    z = torch.randn(2, 3, 3)
    full = model.logits(model.sampling_layout(x), None, z)
    cache = model.new_cache()
    model.extend_cache(x[:, :4], cache)
    model.extend_cache(x[:, 4:8], cache)  # one block at a time, or ...
    cached = model.logits(model.cached_layout(x[:, 8:], 8), None, z, cache)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    at_once = model.new_cache()
    model.extend_cache(x[:, :8], at_once)  # ... both in one pass
    torch.testing.assert_close(model.logits(model.cached_layout(x[:, 8:], 8), None, z, at_once),
                               full, atol=1e-5, rtol=1e-5)


def test_a_registered_order_joins_the_sampler(monkeypatch):
    monkeypatch.setitem(ORDERS, "leftmost", None)  # undoes the registration after the test
    entropies = []

    @register_order("leftmost", needs_entropy=True)
    def leftmost(out, generator):
        entropies.append(out.entropy)
        return -torch.arange(out.token.shape[0], dtype=torch.float64)  # one row: left first

    model = tiny_model(vocab_size=5, seq_len=8)
    inputs, logits = [], model.logits

    def recording(layout, *rest):
        inputs.append(layout.tokens[0].clone())
        return logits(layout, *rest)

    model.logits = recording
    generate(model, batch_size=1, config=SamplerConfig(nfe=8, order="leftmost"))
    assert [(x != model.mask_id).tolist() for x in inputs] == [[i < s for i in range(8)]
                                                               for s in range(8)]
    assert len(entropies) == 8 and all(e is not None for e in entropies)


def test_steps_a_block_cannot_use_move_to_later_blocks():
    from maskdiff.sampling.loop import _steps_per_block

    masked = torch.tensor([[1, 4, 4, 4], [1, 4, 3, 4]])  # a prompt that ends inside block 0
    assert _steps_per_block(8, masked) == {0: 1, 1: 3, 2: 2, 3: 2}
    assert sum(_steps_per_block(12, masked).values()) == 12
    with pytest.raises(ValueError, match=r"nfe=13 is more than .* \(12; a sequence has only 1 "
                                         r"masked tokens in block 0\)"):
        _steps_per_block(13, masked)
