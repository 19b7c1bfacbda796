"""The first exploration of D2 in one step (the synthetic VMD recipe, one seed, 5,000 decoded
samples at NFE 1), one named variant per call:

    python benchmarks/explorations/d2_variants.py tfocus9

Results in benchmarks/results/explorations/onestep_explore.jsonl (rows with a "variant"). They ran
before this round's engine changes (no fit_prior, a mixture shared by all blocks).
"""

import json
import sys
import time
from dataclasses import replace

import torch

from maskdiff import SamplerConfig, generate
from maskdiff.diagnostics import latent_diagnostics
from maskdiff.tasks.synthetic.datasets import get_dataset
from maskdiff.tasks.synthetic.train import evaluate_model, synthetic_recipe, train_model


def variant_recipe(variant: str):
    """The synthetic VMD recipe on D2 (B = 1) with the named variant's changes."""
    recipe = synthetic_recipe("d2", "vmd", 1)
    train = recipe.train
    if variant == "tfocus":
        train = replace(train, t_min=0.5)
    if variant == "tfocus9" or variant.startswith("tf9"):
        train = replace(train, t_min=0.9)
    if variant == "long":
        train = replace(train, steps=6000, kl_warmup_steps=4000)
    if variant.startswith("mix"):
        train = replace(train, t_min=0.9 if variant.startswith("mix9") else 0.5)
        components = int(variant.split("-")[1])
        recipe = replace(recipe, model=replace(recipe.model, prior="mixture",
                                               prior_components=components))
    if "-fb" in variant:
        train = replace(train, free_bits=1.5)
    if "-xlong" in variant:
        train = replace(train, steps=20000, kl_warmup_steps=6000)
    elif "-long" in variant:
        train = replace(train, steps=9000, kl_warmup_steps=4000)
    return replace(recipe, train=train)


def main(variant: str) -> dict:
    t0 = time.time()
    model, _ = train_model(variant_recipe(variant))
    result = evaluate_model(model, "d2", nfe=1, num_samples=5000)
    for tau in (0.5, 0.25):
        config = SamplerConfig(nfe=1, order="random", temperature=1.0, latent_temperature=tau)
        out = generate(model, batch_size=5000, config=config,
                       generator=torch.Generator().manual_seed(1))
        m = get_dataset("d2").metrics(out.tokens)
        result[f"tau{tau}"] = (round(m.accuracy, 4), round(m.kl, 4))
    x0 = get_dataset("d2").sample(400, torch.Generator().manual_seed(3)).x0
    d = latent_diagnostics(model, x0)
    return {"variant": variant, "secs": round(time.time() - t0), "eval": result, "kl": d.kl,
            "kl_dims": [round(v, 3) for v in d.kl_per_dim], "active": d.active_units,
            "mi": d.mi, "follows": d.follows_z, "own": d.swap_own}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(main(sys.argv[1])), flush=True)
