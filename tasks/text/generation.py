"""Prompted generation with a trained text model.

    maskdiff text generate --model runs/shakespeare/model --prompt "to be or not"

The prompt's tokens are conditioning: they sit at the start of the context and are never
changed; the positions after them are decoded. A block model decodes block by block (with the KV
cache of finished blocks), so its text can be streamed as each block finishes, and it stops at the
first end-of-text token or once `max_new_tokens` are decoded, without spending calls on the blocks
after that. A one-block model (MDM, VMD) decodes its whole context at once and is cut there.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import torch

from maskdiff.models import MaskedDiffusionModel
from maskdiff.sampling import SamplerConfig, generate

from .tokenizers import CHARS

__all__ = ["Generation", "generate_text", "encode_prompt"]


@dataclass
class Generation:
    """prompt and text (the decoded continuation, cut at the end token or max_new_tokens);
    tokens: the prompt's ids then the continuation's; ended: whether an end token cut it; nfe:
    denoiser calls made; seconds: wall time."""

    prompt: str
    text: str
    tokens: list[int]
    ended: bool
    nfe: int
    seconds: float
    new_tokens: int = 0


def _is_char_tokenizer(tokenizer) -> bool:
    return len(tokenizer) == len(CHARS) and tokenizer.convert_ids_to_tokens(1) == CHARS[1]


def encode_prompt(tokenizer, prompt: str, context: int) -> list[int]:
    """The prompt's ids, refused with a message when it is empty, holds characters the
    character vocabulary cannot write (they would silently become spaces), or leaves no room in
    the model's context."""
    if not prompt:
        raise ValueError("the prompt is empty; give some text to continue")
    if _is_char_tokenizer(tokenizer):
        plain = "".join(c for c in unicodedata.normalize("NFKD", prompt.lower())
                        if not unicodedata.combining(c))
        outside = sorted({c for c in plain if c not in CHARS})
        if outside:
            raise ValueError(f"the prompt holds characters outside this model's vocabulary "
                             f"(lower-case letters and space): {''.join(outside)!r}")
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError("the prompt encodes to no tokens; give some text to continue")
    if len(ids) >= context:
        raise ValueError(f"the prompt is {len(ids)} tokens; the model's context is {context}, "
                         "which leaves no room to generate: shorten the prompt")
    return ids


@torch.no_grad()
def generate_text(model: MaskedDiffusionModel, tokenizer, prompt: str, *,
                  max_new_tokens: int | None = None, config: SamplerConfig | None = None,
                  seed: int = 0, on_text: Callable[[str], None] | None = None) -> Generation:
    """Continue `prompt` (see the module docstring). on_text(piece) receives the continuation
    as it grows, block by block (all at once for a one-block model)."""
    t0 = time.perf_counter()
    cfg = model.config
    ids = encode_prompt(tokenizer, prompt, cfg.seq_len)
    room = cfg.seq_len - len(ids)
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    limit = min(room, max_new_tokens or room)
    end_id = tokenizer.eos_token_id
    x = torch.full((1, cfg.seq_len), cfg.mask_id, dtype=torch.long)
    x[0, :len(ids)] = torch.tensor(ids)
    b = cfg.block_size
    if cfg.num_blocks > 1:
        # Blocks after the last one needed are never decoded: fill them with a placeholder (not
        # [MASK]) so the call budget is spent only on the needed blocks; block-causal attention
        # keeps them from influencing those.
        x[0, -(-(len(ids) + limit) // b) * b:] = 0
    config = config or SamplerConfig()
    emitted = ""

    def continuation(tokens: torch.Tensor, upto: int) -> tuple[list[int], bool]:
        new = tokens[0, len(ids):min(upto, len(ids) + limit)].tolist()
        if end_id is not None and end_id in new:
            return new[:new.index(end_id)], True
        return new, False

    def emit(text: str) -> None:
        # Only text that extends what was shown is shown: decoding more tokens can change the
        # end of earlier text (a character split over two blocks is U+FFFD until completed).
        nonlocal emitted
        if on_text is not None and text.startswith(emitted) and len(text) > len(emitted):
            on_text(text[len(emitted):])
            emitted = text

    def after_block(k: int, tokens: torch.Tensor) -> bool:
        upto = (k + 1) * b
        new, ended = continuation(tokens, upto)
        emit(tokenizer.decode(new).rstrip("\ufffd"))
        return ended or upto >= len(ids) + limit

    result = generate(model, x, config=config, generator=torch.Generator().manual_seed(seed),
                      on_block=after_block)
    new, ended = continuation(result.tokens, cfg.seq_len)
    text = tokenizer.decode(new)
    emit(text)
    return Generation(prompt, text, ids + new, ended, int(result.nfe),
                      time.perf_counter() - t0, len(new))
