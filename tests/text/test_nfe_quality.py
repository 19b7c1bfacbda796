"""The NFE-quality benchmark's budgets and its scoring of samples."""

import math

import pytest
import torch

from maskdiff.tasks.text.nfe_quality import budgets, score_samples
from maskdiff.tasks.text.quality import generative_perplexity

from ..conftest import tiny_model


def test_budgets_run_from_one_token_per_call_to_one_call_per_block():
    assert budgets(64, 64) == [64, 32, 16, 8, 4]  # one block: down to a few calls
    assert budgets(64, 8) == [64, 32, 16, 8]
    assert budgets(64, 4) == [64, 32, 16]
    assert budgets(64, 1) == [64]  # autoregressive: one call per token is all there is
    assert budgets(12, 4) == [12, 6, 3]
    assert budgets(12, 3) == [12, 6, 4]  # one call per block even off the halvings


def test_scores_are_the_judges_over_groups_of_samples():
    judge = tiny_model(seed=1, scale=2.0, vocab_size=6, seq_len=8, block_size=1)
    samples = torch.randint(0, 6, (12, 8), generator=torch.Generator().manual_seed(0))
    scored = score_samples(judge, samples, 6, groups=3)
    groups = [generative_perplexity(judge, chunk) for chunk in samples.chunk(3)]
    # equal groups: the geometric mean of the groups' perplexities is the overall perplexity
    assert scored["gen_ppl"] == pytest.approx(generative_perplexity(judge, samples), rel=1e-6)
    assert scored["gen_ppl"] == pytest.approx(math.prod(groups) ** (1 / 3), rel=1e-6)
    assert scored["gen_ppl_se"] > 0 and 0 < scored["entropy"] <= math.log(6)
    with pytest.raises(ValueError, match="equal groups"):
        score_samples(judge, samples[:10], 6, groups=3)
