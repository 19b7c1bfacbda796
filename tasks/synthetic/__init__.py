"""The VMD paper's synthetic dependency sets: data, recipes and the benchmark table.

    datasets.py   the four sets, exact metrics and the closed-form factorised accuracy
    train.py      one recipe per (dataset, method, blocks); training, decoding, likelihood numbers
    benchmark.py  Block MDM vs VMD at one step per block and one token per step (benchmarks/synthetic.py)
    cli.py        `maskdiff synthetic [bench|train|eval]` and the `train --config` hooks
"""

from .cli import add_commands
from .datasets import DATASETS, KL_SMOOTHING, SyntheticDataset, get_dataset
from .train import evaluate_model, synthetic_recipe, train_model

__all__ = ["add_commands", "DATASETS", "KL_SMOOTHING", "SyntheticDataset", "get_dataset",
           "synthetic_recipe", "train_model", "evaluate_model"]
