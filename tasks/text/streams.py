"""The text adapter: corpus -> token streams -> fixed-length sequences for training and evaluation.

Each split's documents are tokenized and joined into one stream with a separator id between them
(end-of-text, or a space for the character tokenizer). Training draws windows of `seq_len` tokens
at random offsets of the train stream (`RandomWindows`, a `BatchSource`); evaluation packs a
stream into non-overlapping sequences (`pack`), dropping the incomplete tail.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from maskdiff.data import Batch

from .corpora import SPLITS, data_home, load_corpus
from .tokenizers import load_tokenizer, separator_id

__all__ = ["TextData", "RandomWindows", "pack", "prepare_text"]


def _tokenize_stream(tokenizer, texts, sep: int, batch: int = 64) -> np.ndarray:
    pieces = []
    for i in range(0, len(texts), batch):
        for ids in tokenizer(texts[i:i + batch], add_special_tokens=False)["input_ids"]:
            pieces.append(np.asarray(ids, dtype=np.int32))
            pieces.append(np.asarray([sep], dtype=np.int32))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)


@dataclass
class TextData:
    """Token streams of the three splits plus the tokenizer that made them."""

    corpus: str
    tokenizer_name: str
    tokenizer: object
    streams: dict[str, np.ndarray]

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(list(map(int, ids)))


def prepare_text(corpus: str, tokenizer: str, cache: bool = True) -> TextData:
    """Load `corpus`, build `tokenizer` (a "bpe:N" one is trained on the train split) and
    tokenize every split. Streams are cached under the data home, keyed by corpus content and
    tokenizer, so later runs skip the tokenizer pass."""
    data = load_corpus(corpus)
    texts = {split: list(data[split]["text"]) for split in SPLITS}
    tok = load_tokenizer(tokenizer, train_texts=texts["train"])
    sep = separator_id(tok)
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update(json.dumps(texts[split]).encode())
    digest.update(json.dumps(tok.get_vocab(), sort_keys=True).encode())
    digest.update(tok.backend_tokenizer.to_str().encode() if hasattr(tok, "backend_tokenizer")
                  else b"")
    folder = data_home() / "tokenized" / digest.hexdigest()[:16]
    streams = {}
    for split in SPLITS:
        path = folder / f"{split}.npy"
        if cache and path.is_file():
            streams[split] = np.load(path)
            continue
        streams[split] = _tokenize_stream(tok, texts[split], sep)
        if cache:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{split}.{os.getpid()}.tmp.npy"  # processes may race here
            np.save(tmp, streams[split])
            tmp.replace(path)
    return TextData(corpus, tokenizer, tok, streams)


def pack(stream: np.ndarray, seq_len: int, max_sequences: int | None = None) -> torch.Tensor:
    """Non-overlapping sequences (N, seq_len) from the start of `stream` (tail dropped)."""
    n = len(stream) // seq_len
    if n == 0:
        raise ValueError(f"a split of {len(stream)} tokens holds no sequence of {seq_len} tokens")
    if max_sequences is not None:
        n = min(n, max_sequences)
    return torch.from_numpy(stream[:n * seq_len].astype(np.int64)).view(n, seq_len)


class RandomWindows:
    """`BatchSource` of windows at uniformly random offsets of a token stream."""

    def __init__(self, stream: np.ndarray, seq_len: int):
        if len(stream) < seq_len + 1:
            raise ValueError(f"the training split has {len(stream)} tokens, fewer than one "
                             f"sequence of {seq_len}")
        self.stream = torch.from_numpy(stream.astype(np.int64))
        self.seq_len = seq_len

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        starts = torch.randint(0, len(self.stream) - self.seq_len + 1, (batch_size,),
                               generator=generator)
        return Batch(self.stream[starts[:, None] + torch.arange(self.seq_len)])
