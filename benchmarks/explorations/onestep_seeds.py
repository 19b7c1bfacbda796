"""Exploration runs of the VMD one-step recipe itself over seeds, steps, warm-ups and block counts
(10,000 decoded samples at NFE = B): `synthetic_recipe(set, "vmd-onestep", B, seed)` plus the JSON
spec's overrides.

    python benchmarks/explorations/onestep_seeds.py '{"seed": 2, "train": {"kl_warmup_steps": 1000}}'

Results in benchmarks/results/explorations/onestep_explore.jsonl (see onestep_speed.py about the
code each row ran on).
"""

import json
import sys
import time
from dataclasses import replace

import torch

from maskdiff.tasks.synthetic.train import evaluate_model, synthetic_recipe, train_model


def main(spec: dict) -> dict:
    dataset, blocks = spec.get("dataset", "d2"), spec.get("blocks", 1)
    recipe = synthetic_recipe(dataset, "vmd-onestep", blocks, seed=spec.get("seed", 0))
    recipe = replace(recipe, train=replace(recipe.train, **spec.get("train", {})),
                     model=replace(recipe.model, **spec.get("model", {})))
    t0 = time.time()
    model, _ = train_model(recipe)
    result = evaluate_model(model, dataset, nfe=blocks, num_samples=10_000)
    return {"spec": spec, "secs": round(time.time() - t0), "acc": result["accuracy"],
            "kl": round(result["kl"], 4)}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
