import math

import pytest
import torch

from maskdiff.evaluation import perplexity_bound
from maskdiff.tasks.text.quality import generative_perplexity, token_entropy

from ..conftest import tiny_model


def test_the_judges_generative_perplexity_of_real_text_is_its_test_perplexity():
    judge = tiny_model(seed=4, scale=2.0, vocab_size=6, seq_len=8, block_size=1)
    held_out = torch.randint(0, 6, (40, 8), generator=torch.Generator().manual_seed(0))
    test = perplexity_bound(judge, held_out, passes=2, batch_size=16)
    assert generative_perplexity(judge, held_out, batch_size=7) == pytest.approx(test.perplexity,
                                                                                rel=1e-6)
    # and it is the chain rule, computed here by hand for one sequence
    x = held_out[:1]
    by_hand = 0.0
    for i in range(8):
        prefix = torch.cat([x[:, :i], torch.full((1, 1), judge.mask_id)], dim=1)
        logits = judge.logits(judge.sampling_layout(prefix))[0, -1, :6]
        by_hand -= float(torch.log_softmax(logits.detach().double(), -1)[x[0, i]])
    assert generative_perplexity(judge, x) == pytest.approx(math.exp(by_hand / 8), rel=1e-5)


def test_only_an_exact_autoregressive_judge_is_taken():
    with pytest.raises(ValueError, match="must be an autoregressive model"):
        generative_perplexity(tiny_model(vocab_size=6, seq_len=8), torch.zeros(2, 8, dtype=torch.long))


def test_repetitive_text_has_low_token_entropy():
    repetitive = torch.zeros(3, 12, dtype=torch.long)
    varied = torch.arange(12).repeat(3, 1) % 4
    assert token_entropy(repetitive, 4) == 0.0
    assert token_entropy(varied, 4) == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        token_entropy(torch.zeros(3, dtype=torch.long), 4)


def test_the_judges_schedule_does_not_change_its_perplexity():
    linear = tiny_model(seed=4, scale=2.0, vocab_size=6, seq_len=8, block_size=1)
    cosine = tiny_model(seed=4, scale=2.0, vocab_size=6, seq_len=8, block_size=1, schedule="cosine")
    cosine.load_state_dict(linear.state_dict())
    x = torch.randint(0, 6, (10, 8), generator=torch.Generator().manual_seed(1))
    assert generative_perplexity(cosine, x) == pytest.approx(generative_perplexity(linear, x))
