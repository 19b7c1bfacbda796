"""A tiny training run for tests/test_distributed.py, in this process or under `accelerate launch`.

    python tests/distributed_train.py OUT_DIR [--die-after N] [--fsdp-on-cpu]

--die-after N: the data source raises after N batches (a killed run; checkpoints every 2 steps).
--fsdp-on-cpu: a TEST-ONLY shim for a launch with maskdiff/configs/accelerate/fsdp.yaml on CPU.
accelerate 1.15 turns a launch with FSDP into FSDP only on GPU-like devices; CPU processes (gloo)
are left as MULTI_CPU data parallel, which the trainer refuses. torch's own FSDP2 (`fully_shard`)
runs on CPU over gloo, so the shim sets accelerate's state to FSDP with the plugin accelerate built
from the config, after accelerate has set the processes up. Everything else is the real path:
accelerate's FSDP2 preparation (one shard unit per TransformerBlock), then the trainer's sharded
EMA, gradient clipping, gathering for evaluation and checkpoints, and resuming sharded.
"""

import json
import sys
from pathlib import Path

import torch

from maskdiff import Batch, MaskedDiffusionModel, ModelConfig, TrainConfig, diffusion_loss, train
from maskdiff.cli import close_process_group
from maskdiff.objectives import draw_training_noise

CONFIG = TrainConfig(steps=5, batch_size=8, lr=1e-2, warmup_steps=0, grad_accum_steps=2,
                     ema_decay=0.9, checkpoint_every=2, eval_every=2, log_every=1, progress=False)


class Pairs:
    """(k, k+1, l, l+1) mod 10, uniformly; raises after `die_after` batches when given."""

    sequences = torch.tensor([[k, (k + 1) % 10, l, (l + 1) % 10] for k in range(10) for l in range(10)])

    def __init__(self, die_after: int | None = None):
        self.left = die_after

    def sample(self, batch_size, generator):
        if self.left == 0:
            # Said before exiting: when one rank leaves, the launcher may stop the other (and a
            # rank's teardown may abort) before an exit message would be printed.
            print("killed", file=sys.stderr, flush=True)
            raise SystemExit(1)  # as a killed run stops: no final checkpoint
        if self.left is not None:
            self.left -= 1
        return Batch(self.sequences[torch.randint(0, 100, (batch_size,), generator=generator)])


def model() -> MaskedDiffusionModel:
    """Two trunk blocks (two FSDP shard units), plus a latent encoder with a trunk of its own."""
    torch.manual_seed(0)
    return MaskedDiffusionModel(ModelConfig(vocab_size=10, seq_len=4, d_model=16, n_layers=2,
                                            n_heads=2, block_size=2, latent_dim=4))


def score(model: MaskedDiffusionModel) -> float:
    """The loss on a fixed batch with fixed noise: a function of all the weights."""
    g = torch.Generator().manual_seed(1)
    x0 = Pairs().sample(16, g).x0
    noise = draw_training_noise(model, None, 16, generator=g)
    with torch.no_grad():
        return float(diffusion_loss(model, x0, noise=noise).loss)


def run(out_dir, die_after: int | None = None):
    """Train; (the result, the model handed to the trainer: under FSDP its parameters are left
    as the DTensor shards the trainer trained)."""
    trained = model()
    result = train(trained, Pairs(die_after), CONFIG, out_dir=out_dir,
                   evaluate=lambda m: {"score": score(m)})
    return result, trained


def _fsdp_on_cpu_shim() -> None:
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type, self.fsdp_plugin = DistributedType.FSDP, fsdp_plugin
            if self.mixed_precision != "no":  # as accelerate does on GPUs
                fsdp_plugin.set_mixed_precision(self.mixed_precision)

    AcceleratorState.__init__ = init


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--fsdp-on-cpu" in args:
        args.remove("--fsdp-on-cpu")
        _fsdp_on_cpu_shim()
    die_after = None
    if "--die-after" in args:
        i = args.index("--die-after")
        die_after = int(args.pop(i + 1))
        args.pop(i)
    result, trained = run(args[0], die_after)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        kinds = {"prepared": type(trained.trunk.blocks[0].attn.qkv.weight).__name__,
                 "returned": type(result.model.trunk.blocks[0].attn.qkv.weight).__name__}
        (Path(args[0]) / "parameters.json").write_text(json.dumps(kinds))
        torch.save(result.model.state_dict(), Path(args[0]) / "final.pt")
    close_process_group()  # as `maskdiff train` does: no exit-time gloo teardown
