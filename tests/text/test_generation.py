"""Prompted generation: the prompt is kept, the end token stops it, seeds reproduce, bad prompts
are named."""

import pytest
import torch

from maskdiff.models import MaskedDiffusionModel, ModelConfig, save_model
from maskdiff.sampling import SamplerConfig
from maskdiff.tasks.text.generation import encode_prompt, generate_text
from maskdiff.tasks.text.tokenizers import char_tokenizer, train_bpe_tokenizer

TEXTS = ["the cat sat on the mat. " * 20, "a dog ran in the park! " * 20]


def _model(vocab_size, block_size=4, seq_len=24, seed=0):
    torch.manual_seed(seed)
    return MaskedDiffusionModel(ModelConfig(vocab_size=vocab_size, seq_len=seq_len, d_model=16,
                                            n_layers=1, n_heads=2, block_size=block_size)).eval()


@pytest.mark.parametrize("block_size", [4, 24], ids=["block-diffusion", "mdm"])
def test_the_prompt_is_kept_and_seeds_reproduce(block_size):
    tok = char_tokenizer()
    model = _model(len(tok), block_size)
    prompt = "to be or not"
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    pieces = []
    sampler = SamplerConfig(method="ancestral", temperature=1.0)
    out = generate_text(model, tok, prompt, seed=3, config=sampler, on_text=pieces.append)
    assert out.tokens[:len(ids)] == ids and len(out.tokens) == 24
    assert out.text == "".join(pieces) and out.new_tokens == 24 - len(ids)
    if block_size == 4:  # streamed block by block
        assert len(pieces) > 1
    again = generate_text(model, tok, prompt, seed=3, config=sampler)
    other = generate_text(model, tok, prompt, seed=4, config=sampler)
    assert again.tokens == out.tokens and other.tokens != out.tokens


def test_generation_stops_at_the_end_token_without_decoding_later_blocks():
    tok = train_bpe_tokenizer(TEXTS, 300)
    end = tok.eos_token_id
    model = _model(len(tok))
    with torch.no_grad():  # a model that always says end-of-text
        model.head.bias[end] = 30.0
    out = generate_text(model, tok, "the cat", config=SamplerConfig(nfe=None))
    assert out.ended and end not in out.tokens and out.text == ""
    prompt_len = len(tok("the cat", add_special_tokens=False)["input_ids"])
    # one token per call: only the first decoded block (at most 4 tokens) was decoded
    assert out.nfe <= 4 < 24 - prompt_len
    limited = generate_text(_model(len(tok)), tok, "the cat", max_new_tokens=5)
    assert limited.new_tokens <= 5 and not limited.ended


def test_bad_prompts_are_named():
    tok = char_tokenizer()
    with pytest.raises(ValueError, match="the prompt is empty"):
        encode_prompt(tok, "", 24)
    with pytest.raises(ValueError, match="prompt is 30 tokens; the model's context is 24"):
        encode_prompt(tok, "a" * 30, 24)
    with pytest.raises(ValueError, match=r"outside this model's vocabulary .*: ',7'"):
        encode_prompt(tok, "seven, 7", 24)
    assert encode_prompt(tok, "Café", 24) == tok("cafe", add_special_tokens=False)["input_ids"]
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        generate_text(_model(len(tok)), tok, "hi", max_new_tokens=0)


def test_the_command_streams_a_saved_model(tmp_path, capsys):
    from maskdiff.cli import main

    tok = char_tokenizer()
    folder = tmp_path / "model"
    save_model(_model(len(tok)), folder, extra={"text": {"corpus": "none"}})
    tok.save_pretrained(str(folder / "tokenizer"))
    assert main(["text", "generate", "--model", str(folder), "--prompt", "hello there",
                 "--max-new-tokens", "6"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("hello there") and len(captured.out.rstrip("\n")) <= 11 + 6
    assert "stopped at --max-new-tokens" in captured.err
    assert main(["text", "generate", "--model", str(folder), "--prompt", "#!"]) == 2
    assert "outside this model's vocabulary" in capsys.readouterr().err


def test_eval_scores_any_corpus_with_the_models_tokenizer(tmp_path, capsys):
    from maskdiff.cli import main

    tok = char_tokenizer()
    folder = tmp_path / "model"
    save_model(_model(len(tok)), folder, extra={"text": {"corpus": "a corpus not on this machine"}})
    tok.save_pretrained(str(folder / "tokenizer"))
    scores = {}
    for name, line in (("sea", "the ships sail upon the sea"), ("digits", "aaaa bbbb aaaa bbbb")):
        corpus = tmp_path / f"{name}.txt"
        corpus.write_text("\n".join(f"{line} {i}" for i in range(60)) + "\n")
        assert main(["text", "eval", "--model", str(folder), "--corpus", str(corpus), "--samples",
                     "0", "--passes", "2"]) == 0
        out = capsys.readouterr().out
        assert f"{corpus} test perplexity <= " in out
        scores[name] = float(out.split("perplexity <= ")[1].split()[0])
    assert scores["sea"] != scores["digits"]


def test_a_prompt_ending_mid_block_keeps_the_call_budget():
    tok = char_tokenizer()
    model = _model(len(tok), block_size=4, seq_len=16)
    for nfe, new in ((8, None), (4, 4), (2, 4)):
        out = generate_text(model, tok, "abc", max_new_tokens=new, config=SamplerConfig(nfe=nfe))
        assert out.nfe <= nfe and out.new_tokens == (new or 13)
    # the calls go to the blocks that are needed: 4 new tokens after "abc" span blocks 0 and 1
    assert generate_text(model, tok, "abc", max_new_tokens=4, config=SamplerConfig(nfe=4)).nfe == 4


def test_streamed_text_only_ever_extends():
    class Splitting:  # decodes like a byte-level BPE whose character is cut between blocks
        eos_token_id = None

        def __len__(self):
            return 27

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [1] * len(text)}

        def convert_ids_to_tokens(self, i):
            return "?"

        def decode(self, ids):
            return "é" * (len(ids) // 2) + ("\ufffd" if len(ids) % 2 else "")

    pieces = []
    out = generate_text(_model(27), Splitting(), "ab", on_text=pieces.append)
    assert "".join(pieces) == out.text and "\ufffd" not in "".join(pieces)
