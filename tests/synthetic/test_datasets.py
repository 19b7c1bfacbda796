"""The synthetic sets, and the closed-form accuracies of a factorised denoiser.

An oracle denoiser returns the data's exact conditional marginals p(x0^i | xt); the engine's own
sampler must then land on the closed-form accuracies (one step per block) and on 100% (one token
per step). A sampler or block-layout bug shows up here without any training noise.
"""

import math

import pytest
import torch

from maskdiff import MaskedDiffusionModel, ModelConfig, SamplerConfig, generate
from maskdiff.tasks.synthetic import get_dataset


class OracleDenoiser(MaskedDiffusionModel):
    def __init__(self, dataset, blocks):
        super().__init__(ModelConfig(vocab_size=10, seq_len=dataset.seq_len, d_model=8, n_layers=1,
                                     n_heads=1, block_size=dataset.seq_len // blocks))
        self.support, self.probs = dataset.sequences, dataset.probs

    def logits(self, layout, t=None, z=None, cache=None):
        tokens = layout.tokens  # (B, n): clean prefix + the block being decoded (no KV cache)
        n = tokens.shape[1]
        visible = tokens != self.mask_id
        agree = (tokens[:, None, :] == self.support[None, :, :n]) | ~visible[:, None, :]
        w = self.probs[None, :] * agree.all(-1)  # (B, K) posterior over the support
        w = w / w.sum(-1, keepdim=True)
        onehot = torch.nn.functional.one_hot(self.support[:, layout.noisy_start:layout.noisy_end],
                                             11).double()  # (K, b, V+1)
        marginals = torch.einsum("bk,kiv->biv", w, onehot)
        return marginals.clamp_min(1e-300).log().float()


def _accuracy(name, blocks, nfe, n, seed=0):
    ds = get_dataset(name)
    out = generate(OracleDenoiser(ds, blocks), batch_size=n,
                   config=SamplerConfig(nfe=nfe, order="random", temperature=1.0, kv_cache=False),
                   generator=torch.Generator().manual_seed(seed))
    return ds.metrics(out.tokens)


@pytest.mark.parametrize("name,blocks,expected", [
    ("d1", 1, 0.001), ("d1", 2, 0.1), ("d2", 1, 0.01), ("d2", 2, 0.01),
    ("two-uniform", 1, 0.1), ("two-nonuniform", 1, sum(((k + 1) / 55) ** 2 for k in range(10))),
])
def test_closed_form_factorised_accuracy(name, blocks, expected):
    assert get_dataset(name).factorised_accuracy(blocks) == pytest.approx(expected)


@pytest.mark.parametrize("name,blocks,n", [("d1", 1, 100_000), ("d1", 2, 20_000), ("d2", 1, 40_000),
                                           ("two-uniform", 1, 20_000)])
def test_one_step_per_block_lands_on_closed_form(name, blocks, n):
    p = get_dataset(name).factorised_accuracy(blocks)
    acc = _accuracy(name, blocks, blocks, n).accuracy
    assert abs(acc - p) < 5 * math.sqrt(p * (1 - p) / n), (acc, p)


@pytest.mark.parametrize("name,blocks", [("d1", 1), ("d1", 2), ("d2", 1), ("two-nonuniform", 1)])
def test_one_token_per_step_is_exact(name, blocks):
    ds = get_dataset(name)
    m = _accuracy(name, blocks, ds.seq_len, 20_000)
    assert m.accuracy == 1.0
    assert m.tv < 0.03  # sampling noise only


def test_sampling_from_dataset_matches_weights():
    ds = get_dataset("two-nonuniform")
    batch = ds.sample(55_000, torch.Generator().manual_seed(0))
    assert batch.maskable is None
    counts = torch.bincount(batch.x0[:, 0], minlength=10).double() / 55_000
    assert torch.allclose(counts, torch.arange(1, 11).double() / 55, atol=0.005)


def test_unknown_dataset_names_the_problem():
    with pytest.raises(ValueError, match="unknown synthetic dataset 'd3'"):
        get_dataset("d3")
