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


def main(spec: dict) -> dict:
    dataset, blocks = spec.get("dataset", "d2"), spec.get("blocks", 1)
    recipe = synthetic_recipe(dataset, "vmd", blocks)
    train = replace(recipe.train, **{"t_min": 0.9, "free_bits": 1.5, **spec.get("train", {})})
    model_config = replace(recipe.model, **{"prior": "mixture", "prior_components": 128,
                                            **spec.get("model", {})})
    recipe = replace(recipe, train=train, model=model_config)
    t0 = time.time()
    model, _ = train_model(recipe)
    result = evaluate_model(model, dataset, nfe=blocks, num_samples=5000)
    return {"spec": spec, "secs": round(time.time() - t0), "acc": result["accuracy"],
            "kl": round(result["kl"], 4)}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
