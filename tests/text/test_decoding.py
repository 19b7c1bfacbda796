"""Text decoding protocols: every protocol decodes within the budget and reports its cost."""

import torch

from maskdiff import MaskedDiffusionModel, ModelConfig
from maskdiff.tasks.text.decoding import PROTOCOLS, measure, render


def test_every_protocol_stays_within_one_call_per_token():
    torch.manual_seed(0)
    model = MaskedDiffusionModel(ModelConfig(vocab_size=6, seq_len=8, block_size=4, d_model=16,
                                             n_layers=1, n_heads=2)).eval()
    rows = []
    for name, options in PROTOCOLS.items():
        r = measure(model, options, batch=4, seed=0)
        assert 1 <= r["nfe_used"] <= r["nfe_budget"] == 8 and r["tokens_per_call"] >= 1
        assert r["mean_log_prob"] <= 0 and len(r["sample"]) == 8
        rows.append({"row": "m", "method": "bd-b4", "corpus": "x", "protocol": name,
                     **r, "sample": "abc"})
    fixed = next(r for r in rows if r["protocol"].startswith("fixed"))
    assert fixed["nfe_used"] == 8 and fixed["tokens_per_call"] == 1
    assert "tokens per call" in render(rows, {"batch": 4})


def test_infilling_calibration_scores_only_the_filled_tokens():
    from maskdiff.tasks.text.decoding import infilling_calibration

    torch.manual_seed(0)
    model = MaskedDiffusionModel(ModelConfig(vocab_size=6, seq_len=8, block_size=4, d_model=16,
                                             n_layers=1, n_heads=2)).eval()
    sequences = torch.randint(0, 6, (32, 8), generator=torch.Generator().manual_seed(1))
    c = infilling_calibration(model, sequences, share=0.5)
    filled = sum(b["count"] for b in c["bins"])
    assert 0 < filled < 32 * 8 and 0 <= c["accuracy"] <= 1 and c["ece"] >= 0
