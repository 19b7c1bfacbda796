"""Exploration runs behind the VMD one-step recipe (D2 or D1, one seed, 3,000 steps unless the
spec says otherwise, 5,000 decoded samples at NFE = B): the synthetic VMD recipe with t ~ U(0.9, 1),
a 128-component mixture prior and free bits of 1.5, plus the JSON spec's overrides.

    python benchmarks/explorations/onestep_speed.py '{"train": {"lr": 0.01}}'

Kept as the record of what was measured; results in
benchmarks/results/explorations/onestep_explore.jsonl. These ran while the engine changed: the
rows record the code they ran on (before fit_prior existed, with it off, or on; the mixture shared
by all blocks until per-block mixtures), so today's code does not reproduce every row.
"""

import json
import sys
import time
from dataclasses import replace

import torch

from maskdiff.tasks.synthetic.train import evaluate_model, synthetic_recipe, train_model


def train_and_score(recipe, spec: dict, num_samples: int) -> dict:
    """The spec's overrides (its "train" and "model" sections) on `recipe`, trained and scored at
    one call per block: the result row both exploration scripts print."""
    dataset, blocks = spec.get("dataset", "d2"), spec.get("blocks", 1)
    recipe = replace(recipe, train=replace(recipe.train, **spec.get("train", {})),
                     model=replace(recipe.model, **spec.get("model", {})))
    t0 = time.time()
    model, _ = train_model(recipe)
    result = evaluate_model(model, dataset, nfe=blocks, num_samples=num_samples)
    return {"spec": spec, "secs": round(time.time() - t0), "acc": result["accuracy"],
            "kl": round(result["kl"], 4)}


def main(spec: dict) -> dict:
    recipe = synthetic_recipe(spec.get("dataset", "d2"), "vmd", spec.get("blocks", 1))
    recipe = replace(recipe, train=replace(recipe.train, t_min=0.9, free_bits=1.5),
                     model=replace(recipe.model, prior="mixture", prior_components=128))
    return train_and_score(recipe, spec, num_samples=5000)


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
