"""Exploration: how much room a confidence threshold has on a text model. Decodes with the
threshold and prints, per denoiser call, the highest token probability among the masked positions
and the tokens committed against the fixed schedule's count.

    python benchmarks/explorations/threshold_room.py runs/text-bench/mdm/model --nfe 16 --threshold 0.5
"""

from __future__ import annotations

import argparse
import json

import torch

import maskdiff.sampling.methods as methods
from maskdiff import SamplerConfig, generate
from maskdiff.tasks.text.train import load_text_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    calls = []
    plain_commit = methods.Confidence.commit

    def commit(self, out, still_masked, step):  # the method's own choice, observed
        chosen = plain_commit(self, out, still_masked, step)
        calls.append({"call": step, "max_prob": round(float(out.token_prob.max()), 3),
                      "committed": int(chosen.sum()),
                      "scheduled": int(self.minimum(still_masked, step).sum())})
        return chosen

    methods.Confidence.commit = commit
    model, _, _ = load_text_model(args.model)
    config = SamplerConfig(nfe=args.nfe, method="confidence", order="top-prob-margin",
                           temperature=1.0, threshold=args.threshold)
    generate(model, batch_size=args.samples, generator=torch.Generator().manual_seed(0),
             config=config)
    extra = sum(c["committed"] - c["scheduled"] for c in calls)
    print(json.dumps({"model": args.model, "nfe": args.nfe, "threshold": args.threshold,
                      "samples": args.samples, "extra_commits": extra,
                      "max_prob_range": [min(c["max_prob"] for c in calls),
                                         max(c["max_prob"] for c in calls)], "calls": calls}))


if __name__ == "__main__":
    main()
