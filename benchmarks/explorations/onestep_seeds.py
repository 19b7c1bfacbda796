"""Exploration runs of the VMD one-step recipe itself over seeds, steps, warm-ups and block counts
(10,000 decoded samples at NFE = B): `synthetic_recipe(set, "vmd-onestep", B, seed)` plus the JSON
spec's overrides.

    python benchmarks/explorations/onestep_seeds.py '{"seed": 2, "train": {"kl_warmup_steps": 1000}}'

Results in benchmarks/results/explorations/onestep_explore.jsonl (see onestep_speed.py about the
code each row ran on).
"""

import json
import sys

import torch
from onestep_speed import train_and_score  # this folder's script (on the path when run)

from maskdiff.tasks.synthetic.train import synthetic_recipe


def main(spec: dict) -> dict:
    recipe = synthetic_recipe(spec.get("dataset", "d2"), "vmd-onestep", spec.get("blocks", 1),
                              seed=spec.get("seed", 0))
    return train_and_score(recipe, spec, num_samples=10_000)


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
