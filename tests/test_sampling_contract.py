"""The contract of the sampler, checked for every model kind and every registered method, order
and latent policy (a newly registered one joins these tests automatically).

On any input: conditioning positions (non-[MASK] input) are never changed, no [MASK] remains, the
NFE is exactly the budget when every decoded block has enough masked tokens (one denoiser call
per step, counted on the network itself), and the same seed gives the same tokens.
"""

import pytest
import torch

from maskdiff import SamplerConfig, generate
from maskdiff.sampling import METHODS, ORDERS, Z_POLICIES
from maskdiff.sampling.remasking import REMASKS

from .conftest import tiny_model

SEQ_LEN, VOCAB = 8, 5
KINDS = {
    "mdm": dict(),
    "block-diffusion": dict(block_size=4),
    "autoregressive": dict(block_size=1),
    "vmd": dict(latent_dim=3),
    "block-vmd": dict(block_size=4, latent_dim=3),
    "time-mdm": dict(time_conditioning=True),
    "looped-bd": dict(block_size=4, n_loops=2),
    "vmd-mixture-prior": dict(latent_dim=3, prior="mixture", prior_components=4),
    "block-vmd-mixture-prior": dict(block_size=4, latent_dim=3, prior="mixture", prior_components=4),
}
LATENT_KINDS = {kind: dict(overrides, prior="learned") for kind, overrides in KINDS.items()
                if overrides.get("latent_dim") and "prior" not in overrides}


def _cases():
    for kind, overrides in KINDS.items():
        several_blocks = overrides.get("block_size", SEQ_LEN) < SEQ_LEN
        for kv_cache in (True, False) if several_blocks else (True,):
            for method in METHODS:
                for order in ORDERS:
                    cache = "kv" if kv_cache else "no-kv"
                    yield pytest.param(kind, method, order, kv_cache,
                                       id=f"{kind}-{method}-{order}-{cache}")


def _calls(model):
    """A list that grows by one per denoiser call (not per pass that only fills the KV cache)."""
    calls = []
    model.trunk.register_forward_hook(
        lambda module, args, kwargs, out: None if kwargs.get("extend_cache") else calls.append(1),
        with_kwargs=True)
    return calls


def _inputs(model, batch=4):
    """Rows with random givens; with several blocks, the first block is fully given (a prompt)."""
    g = torch.Generator().manual_seed(0)
    b = model.config.block_size
    x0 = torch.randint(0, VOCAB, (batch, SEQ_LEN), generator=g)
    given = torch.rand(batch, SEQ_LEN, generator=g) < 0.3
    if b < SEQ_LEN:
        given[:, :b] = True
    return torch.where(given, x0, torch.tensor(model.mask_id)), given


def _check(model, x_init, given, config):
    """Decode twice with one seed; check the contract; return (result, counted calls)."""
    calls = _calls(model)
    out = generate(model, x_init, config=config, generator=torch.Generator().manual_seed(1))
    again = generate(model, x_init, config=config, generator=torch.Generator().manual_seed(1))
    model.trunk._forward_hooks.clear()
    assert torch.equal(out.tokens[given], x_init[given]), "a conditioning position changed"
    assert not bool((out.tokens == model.mask_id).any()), "a [MASK] remains"
    assert torch.equal(out.tokens, again.tokens), "same seed, other tokens"
    assert again.nfe == out.nfe and len(calls) == 2 * out.nfe
    return out


@pytest.mark.parametrize("kind,method,order,kv_cache", list(_cases()))
def test_sampler_contract(kind, method, order, kv_cache):
    model = tiny_model(vocab_size=VOCAB, seq_len=SEQ_LEN, **KINDS[kind])
    x_init, given = _inputs(model)
    nb = model.config.num_blocks
    masked = (x_init == model.mask_id).view(x_init.shape[0], nb, -1).sum(-1)  # (B, nb)
    decoded = masked.any(0)  # blocks with something to decode
    most_steps = int(masked[:, decoded][masked[:, decoded] > 0].min())
    budget = int(decoded.sum()) * most_steps  # every decoded block gets most_steps steps
    common = dict(method=method, order=order, kv_cache=kv_cache, temperature=0.7, score_noise=0.1)
    out = _check(model, x_init, given, SamplerConfig(nfe=budget, **common))
    assert out.nfe == budget
    one_per_step = _check(model, x_init, given, SamplerConfig(nfe=None, **common))
    assert one_per_step.nfe == int(masked.max(0).values.sum())


@pytest.mark.parametrize("policy", list(Z_POLICIES))
@pytest.mark.parametrize("kind", list(LATENT_KINDS))
def test_latent_policy_contract(kind, policy):
    model = tiny_model(vocab_size=VOCAB, seq_len=SEQ_LEN, **LATENT_KINDS[kind])
    x_init, given = _inputs(model)
    nb = model.config.num_blocks
    decoded = int((x_init == model.mask_id).view(x_init.shape[0], nb, -1).any(-1).any(0).sum())
    out = _check(model, x_init, given, SamplerConfig(nfe=decoded, z_policy=policy, temperature=0.7))
    assert out.nfe == decoded


# Decoding variants beyond the fixed schedule: adaptive (budgeted and Fast-dLLM's one-per-call
# form), remasking (every registered strategy), and a task constraint. Each keeps the contract
# and never spends more calls than the budget, per sequence and for the batch.
VARIANTS = {
    "adaptive": dict(threshold=0.3),
    "adaptive-one": dict(threshold=0.3, min_per_call="one"),
    **{f"remask-{name}": dict(remask=name, remask_share=0.5) for name in REMASKS},
    "adaptive-remask": dict(threshold=0.3, remask="confidence"),
}


def _no_token_zero(x):
    """A constraint: token 0 is never allowed."""
    allowed = torch.ones(*x.shape, VOCAB, dtype=torch.bool)
    allowed[..., 0] = False
    return allowed


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_decoding_variants_keep_the_contract_within_the_budget(kind, variant):
    model = tiny_model(vocab_size=VOCAB, seq_len=SEQ_LEN, scale=3.0, **KINDS[kind])
    x_init, given = _inputs(model)
    nb = model.config.num_blocks
    masked = (x_init == model.mask_id).view(x_init.shape[0], nb, -1).sum(-1)  # (B, nb)
    decoded = masked.any(0)
    budget = int(decoded.sum()) * int(masked[:, decoded][masked[:, decoded] > 0].min())
    config = SamplerConfig(nfe=budget, temperature=0.7, **VARIANTS[variant])
    out = _check(model, x_init, given, config)
    assert out.nfe <= budget and int(out.nfe_per_sequence.max()) <= out.nfe
    assert bool(torch.isnan(out.confidence[given]).all())
    assert bool((out.confidence[~given] > 0).all())
    constrained = generate(model, x_init, config=config, constraint=_no_token_zero,
                           generator=torch.Generator().manual_seed(1))
    assert not bool((constrained.tokens[~given] == 0).any()), "a forbidden token was emitted"
    assert torch.equal(constrained.tokens[given], x_init[given])
