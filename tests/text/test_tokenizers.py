"""Tokenizers: text8 characters, exact GPT-2 BPE from local files, a corpus-trained BPE."""

import pytest

from maskdiff.tasks.text.tokenizers import load_tokenizer, separator_id


def test_char_tokenizer_is_text8_style(tmp_path):
    tok = load_tokenizer("char")
    assert len(tok) == 27
    ids = tok("Hello,  World!\nÉté 42", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "hello world ete "
    assert max(ids) < 27 and separator_id(tok) == 0
    tok.save_pretrained(tmp_path / "tok")
    again = load_tokenizer(str(tmp_path / "tok"))
    assert again("ab c", add_special_tokens=False)["input_ids"] == [1, 2, 0, 3]


def test_trained_bpe_round_trips():
    texts = ["the cat sat on the mat. " * 20, "the dog sat on the log! " * 20]
    tok = load_tokenizer("bpe:300", train_texts=texts)
    assert len(tok) <= 300
    s = "the cat sat on the log."
    assert tok.decode(tok(s, add_special_tokens=False)["input_ids"]) == s
    assert separator_id(tok) == tok.eos_token_id
    with pytest.raises(ValueError, match="at least 258"):
        load_tokenizer("bpe:100", train_texts=texts)
    with pytest.raises(ValueError, match="training texts"):
        load_tokenizer("bpe:300")


def test_unknown_tokenizer_is_named():
    with pytest.raises(ValueError, match="unknown tokenizer 'gpt5'.*char, gpt2, bpe"):
        load_tokenizer("gpt5")


def test_gpt2_bpe_is_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKDIFF_HOME", str(tmp_path))
    tok = load_tokenizer("gpt2")
    assert len(tok) == 50257 and tok.eos_token_id == 50256
    assert tok("Hello world")["input_ids"] == [15496, 995]
    text = "maskdiff's tokenizer: naïve café, 2,225 articles!"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok(" the")["input_ids"] == [262]
