import math

import pytest
import torch

from maskdiff.diagnostics import latent_diagnostics
from maskdiff.models import DiagonalGaussian

from .conftest import tiny_model


def _data(n=64, seq_len=4, vocab=5, seed=0):
    return torch.randint(0, vocab, (n, seq_len), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("block_size", [4, 2], ids=["vmd", "block-vmd"])
def test_diagnostics_are_zero_when_the_encoder_is_the_prior(block_size):
    model = tiny_model(seed=1, scale=3.0, vocab_size=5, seq_len=4, latent_dim=3,
                       block_size=block_size)
    model.posterior = lambda x0, masked: DiagonalGaussian.standard(
        (x0.shape[0], model.config.num_blocks, 3))
    d = latent_diagnostics(model, _data())
    assert d.kl == 0 and d.kl_per_dim == [0.0] * 3 and d.active_units == 0
    assert d.mi == pytest.approx(0.0, abs=1e-5)
    assert d.follows_z == 0.0


def test_an_informative_latent_shows_in_every_diagnostic():
    model = tiny_model(seed=1, scale=3.0, vocab_size=5, seq_len=4, latent_dim=2)
    x0 = _data(n=32)
    table = torch.randn(32, 2, generator=torch.Generator().manual_seed(2)) * 10

    def names_the_sequence(x, masked):  # a sharp posterior that identifies each sequence
        row = (x[:, None, :] == x0[None]).all(-1).float().argmax(-1)
        return DiagonalGaussian(table[row][:, None], torch.full((len(x), 1, 2), -12.0))

    model.posterior = names_the_sequence
    d = latent_diagnostics(model, x0)
    distinct = len({tuple(r) for r in x0.tolist()})
    assert d.active_units == 2 and d.kl > 10
    assert d.mi == pytest.approx(math.log(32), abs=0.2)  # each z names one of the sequences
    assert d.mi <= math.log(32) + 1e-6 and distinct == 32


def test_a_trained_vmd_latent_is_followed_and_plain_models_are_refused():
    from maskdiff import TrainConfig, train
    from maskdiff.tasks.synthetic.datasets import get_dataset

    torch.manual_seed(0)
    model = tiny_model(seed=0, vocab_size=10, seq_len=4, latent_dim=2, d_model=32)
    data = get_dataset("d1")
    train(model, data, TrainConfig(steps=300, batch_size=128, lr=3e-3, free_bits=1.0,
                                   progress=False))
    x0 = data.sample(256, torch.Generator().manual_seed(5)).x0
    d = latent_diagnostics(model.eval(), x0)
    # (a collapsed latent scores about 0.1, 0 and 0 here)
    assert d.swap_own > 0.5 and d.follows_z > 0.4 and d.mi > 1.0
    with pytest.raises(ValueError, match="need a VMD model"):
        latent_diagnostics(tiny_model(vocab_size=5, seq_len=4), _data())
    with pytest.raises(ValueError, match=r"x0 must be \(N >= 2, 4\)"):
        latent_diagnostics(model, x0[:1])
