"""Tokenizers, all as `transformers.PreTrainedTokenizerFast` so the rest of the code sees one
interface. `load_tokenizer(name)` accepts:

- "char": text8-style characters: lower-case letters and space (27 ids, space = 0). Everything
  else is normalised away (accents stripped, other characters become a space, runs of spaces
  collapse), so any text encodes;
- "gpt2": GPT-2's byte-level BPE (50,257 ids), rebuilt exactly from the `gpt2.tiktoken` rank file
  inside the openai-whisper source package (fetched once with pip into the data home);
- "bpe:N": a byte-level BPE with N ids trained on the given training texts;
- a folder written by `save_pretrained` (what training stores next to each model).

Token ids are the model's data ids 0..len(tokenizer)-1; the model's [MASK] id comes after them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

from .corpora import data_home, fetch_package

__all__ = ["TOKENIZER_CHOICES", "load_tokenizer", "char_tokenizer", "gpt2_tokenizer",
           "train_bpe_tokenizer", "separator_id"]

TOKENIZER_CHOICES = "char, gpt2, bpe:<vocab size> or a folder holding a saved tokenizer"
CHARS = " abcdefghijklmnopqrstuvwxyz"
WHISPER_SDIST = "openai-whisper==20250625"
EOS = "<|endoftext|>"


def char_tokenizer():
    """The 27-symbol text8 character tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(CHARS)}, unk_token=" "))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
        normalizers.Replace(Regex("[^a-z ]+"), " "), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=10**9)


def _tiktoken_ranks(path: str) -> dict[bytes, int]:
    """Read a tiktoken rank file (base64 token, rank per line) without the tiktoken package."""
    return {base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in Path(path).read_text().splitlines()
                                if line.strip())}


def _tiktoken_to_files(tiktoken_file: Path, folder: Path) -> None:
    """Write vocab.json + merges.txt (the GPT-2 format) from a tiktoken rank file, with
    transformers' tiktoken converter (fed by our reader)."""
    from transformers.convert_slow_tokenizer import TikTokenConverter

    converter = TikTokenConverter()
    converter.load_tiktoken_bpe = _tiktoken_ranks
    vocab, merges = converter.extract_vocab_merges_from_model(str(tiktoken_file))
    vocab[EOS] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def gpt2_tokenizer(home: Path | None = None):
    """GPT-2 BPE from local files, fetched and converted once ("Hello world" -> [15496, 995])."""
    from transformers import GPT2TokenizerFast

    folder = (home or data_home()) / "tokenizers" / "gpt2"
    if not (folder / "merges.txt").is_file():
        sdist = fetch_package(WHISPER_SDIST, (home or data_home()) / "downloads", source=True)
        tmp = folder.with_name(f"gpt2.{os.getpid()}.tmp")  # private: first uses may race
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as tf:
            member = next((m for m in tf.getmembers() if m.name.endswith("assets/gpt2.tiktoken")),
                          None)
            if member is None:
                raise RuntimeError(f"{sdist.name} holds no gpt2.tiktoken")
            (tmp / "gpt2.tiktoken").write_bytes(tf.extractfile(member).read())
        _tiktoken_to_files(tmp / "gpt2.tiktoken", tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process got there first
            shutil.rmtree(tmp)
    # Built with from_pretrained on a folder: the vocab_file= constructor can silently come out empty.
    tok = GPT2TokenizerFast.from_pretrained(str(folder), model_max_length=10**9,
                                            bos_token=EOS, eos_token=EOS, unk_token=EOS)
    if len(tok) != 50257:
        raise RuntimeError(f"GPT-2 tokenizer in {folder} has {len(tok)} ids, expected 50257")
    return tok


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE with `vocab_size` ids (the last is <|endoftext|>) trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 257 + 1:
        raise ValueError(f"a byte-level BPE needs at least 258 ids (256 bytes, end of text, one "
                         f"merge), got bpe:{vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([EOS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, model_max_length=10**9)


def load_tokenizer(name: str, train_texts: Iterable[str] | None = None, home: Path | None = None):
    """Tokenizer by name (see the module doc). `train_texts` is needed only for "bpe:N"."""
    if name == "char":
        return char_tokenizer()
    if name == "gpt2":
        return gpt2_tokenizer(home)
    m = re.fullmatch(r"bpe:(\d+)", name or "")
    if m:
        if train_texts is None:
            raise ValueError(f"tokenizer {name!r} is trained on the corpus: pass its training texts")
        return train_bpe_tokenizer(train_texts, int(m.group(1)))
    path = Path(name).expanduser() if name else None
    if path is not None and path.is_dir():
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(path))
        except Exception as err:
            raise ValueError(f"cannot load a tokenizer from {path}: {err}") from err
    raise ValueError(f"unknown tokenizer {name!r}; choose {TOKENIZER_CHOICES}")


def separator_id(tokenizer) -> int:
    """Id placed between documents when they are packed into one stream: end-of-text where the
    tokenizer has one, else a space."""
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    ids = tokenizer(" ", add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError("tokenizer has neither an end-of-text token nor a one-id space")
    return ids[0]
