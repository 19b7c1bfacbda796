"""Adaptive decoding, remasking, constraints and the accounting of a decoding run."""

import pytest
import torch

from maskdiff import SamplerConfig, generate
from maskdiff.sampling.remasking import REMASKS

from .conftest import tiny_model

VOCAB, SEQ_LEN = 4, 8


def _model(**overrides):
    return tiny_model(vocab_size=VOCAB, seq_len=SEQ_LEN, d_model=16, scale=3.0, **overrides)


def _decode(model, batch=6, constraint=None, **config):
    return generate(model, batch_size=batch, config=SamplerConfig(**config),
                    constraint=constraint, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("overrides", [{}, {"block_size": 4}, {"latent_dim": 2}])
def test_a_threshold_never_met_is_the_fixed_schedule_exactly(overrides):
    model = _model(**overrides)
    fixed = _decode(model, nfe=4, temperature=0.5)
    adaptive = _decode(model, nfe=4, temperature=0.5, threshold=1.0)
    assert torch.equal(adaptive.tokens, fixed.tokens) and adaptive.nfe == fixed.nfe == 4
    assert torch.equal(adaptive.nfe_per_sequence, fixed.nfe_per_sequence)
    assert fixed.nfe_per_sequence.tolist() == [4] * 6


def test_a_threshold_always_met_decodes_each_block_in_one_call():
    model = _model(block_size=4)
    out = _decode(model, nfe=8, threshold=1e-9)
    assert out.nfe == 2 and out.nfe_per_sequence.tolist() == [2] * 6
    assert out.tokens_per_call == pytest.approx(SEQ_LEN / 2)


def test_one_per_call_form_uses_the_budget_as_a_cap():
    model = _model()
    slow = _decode(model, threshold=1.0, min_per_call="one")  # never met: one token per call
    assert slow.nfe == SEQ_LEN and slow.nfe_per_sequence.tolist() == [SEQ_LEN] * 6
    capped = _decode(model, nfe=3, threshold=1.0, min_per_call="one")
    assert capped.nfe == 3 and not bool((capped.tokens == model.mask_id).any())


def test_accounting_counts_commits_calls_and_time():
    model = _model()
    out = _decode(model, nfe=4)
    assert out.commits.tolist() == [SEQ_LEN] * 6 and out.tokens_per_call == pytest.approx(2.0)
    assert 0 < out.denoiser_seconds <= out.seconds and out.nfe_histogram() == {4: 6}
    remasked = _decode(model, nfe=4, remask="confidence", remask_share=0.5)
    assert bool((remasked.commits > SEQ_LEN).all()) and remasked.nfe == 4


def test_confidence_records_the_probability_of_each_committed_token():
    model = _model()
    out = _decode(model, nfe=SEQ_LEN)  # argmax: the confidence is the top-1 probability
    assert bool(((out.confidence > 1 / VOCAB - 1e-6) & (out.confidence <= 1)).all())


def test_remask_strategies_pick_among_committed_tokens_only():
    confidence = torch.tensor([[0.9, 0.2, 0.5, 0.1]])
    committed = torch.tensor([[True, True, True, False]])
    picked = REMASKS["confidence"](confidence, committed, torch.tensor([2]), None)
    assert picked.tolist() == [[False, True, True, False]]
    picked = REMASKS["random"](confidence, committed, torch.tensor([3]), torch.Generator())
    assert picked.tolist() == [[True, True, True, False]]


def test_a_constraint_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match="a constraint must return a bool tensor"):
        _decode(_model(), nfe=4, constraint=lambda x: torch.ones(x.shape[0], SEQ_LEN, VOCAB + 1,
                                                                   dtype=torch.bool))


@pytest.mark.parametrize("config,message", [
    (dict(method="ancestral", threshold=0.9), "threshold needs a method that ranks"),
    (dict(threshold=0.0), "threshold must lie in"),
    (dict(min_per_call="one"), "needs a threshold"),
    (dict(min_per_call="two", threshold=0.5), "unknown min_per_call"),
    (dict(remask="oldest"), "unknown remask strategy 'oldest'"),
    (dict(remask="confidence", remask_share=1.5), "remask_share must lie in"),
])
def test_bad_decoding_options_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        SamplerConfig(**config)


def test_remasking_never_reopens_a_finished_row():
    model = _model()
    out = _decode(model, nfe=SEQ_LEN, threshold=1e-9, remask="confidence", remask_share=0.5)
    assert out.nfe_per_sequence.tolist() == [1] * 6 and out.commits.tolist() == [SEQ_LEN] * 6


def test_the_one_per_call_form_takes_a_budget_above_the_tokens_as_a_cap():
    out = _decode(_model(), nfe=20, threshold=0.9, min_per_call="one")
    assert out.nfe <= SEQ_LEN and not bool((out.tokens == VOCAB).any())
    with pytest.raises(ValueError, match="lower nfe"):  # the fixed count per call cannot
        _decode(_model(), nfe=20, threshold=0.9)


def test_a_constraint_on_another_device_is_named():
    with pytest.raises(ValueError, match="on the model's device"):
        _decode(_model(), nfe=4, constraint=lambda x: torch.ones(x.shape[0], SEQ_LEN, VOCAB,
                                                                   dtype=torch.bool, device="meta"))
