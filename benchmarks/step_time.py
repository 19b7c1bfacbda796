"""Training-step time of VMD against plain MDM at equal decoder size.

    python benchmarks/step_time.py

For each size, times forward + backward + AdamW step of the masked-diffusion loss (MDM) and of the
VMD double ELBO (same decoder, plus the latent encoder and the adaLN latent injection), and prints
the ratio. Median of several repeats; writes benchmarks/results/step_time.json.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from maskdiff import MaskedDiffusionModel, ModelConfig, diffusion_loss, get_schedule

SIZES = [  # (label, vocab, seq_len, d_model, layers, heads, batch)
    ("synthetic 4-token", 10, 4, 64, 2, 4, 256),
    ("sudoku-like", 9, 81, 128, 6, 4, 64),
    ("text-like", 28, 256, 256, 6, 8, 16),
]


def time_steps(config: ModelConfig, batch: int, repeats: int, warmup: int = 3) -> list[float]:
    torch.manual_seed(0)
    model = MaskedDiffusionModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, config.vocab_size, (batch, config.seq_len), generator=g)
    schedule = get_schedule("linear")
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        loss = diffusion_loss(model, x0, schedule, generator=g).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "step_time.json")
    args = parser.parse_args()
    rows = []
    print(f"{'size':<18} {'MDM ms':>8} {'VMD ms':>8} {'ratio':>6}  decoder/latent params")
    for label, vocab, L, d, layers, heads, batch in SIZES:
        base = dict(vocab_size=vocab, seq_len=L, d_model=d, n_layers=layers, n_heads=heads)
        mdm_cfg, vmd_cfg = ModelConfig(**base), ModelConfig(**base, latent_dim=32, encoder_layers=1)
        # interleave the two to share whatever else the machine is doing
        mdm, vmd = [], []
        for _ in range(3):
            mdm += time_steps(mdm_cfg, batch, args.repeats // 3)
            vmd += time_steps(vmd_cfg, batch, args.repeats // 3)
        m, v = statistics.median(mdm), statistics.median(vmd)
        model = MaskedDiffusionModel(vmd_cfg)
        row = dict(size=label, seq_len=L, d_model=d, n_layers=layers, batch=batch,
                   mdm_ms=round(1000 * m, 2), vmd_ms=round(1000 * v, 2), ratio=round(v / m, 3),
                   decoder_params=model.num_parameters("decoder"),
                   latent_params=model.num_parameters("latent"))
        rows.append(row)
        print(f"{label:<18} {row['mdm_ms']:>8.1f} {row['vmd_ms']:>8.1f} {row['ratio']:>6.2f}  "
              f"{row['decoder_params']:,}/{row['latent_params']:,}")
    meta = dict(torch=torch.__version__, threads=torch.get_num_threads(),
                machine=platform.machine(), processor=platform.processor() or "unknown")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
