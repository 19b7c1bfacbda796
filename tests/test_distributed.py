"""The shipped accelerate configs (maskdiff/configs/accelerate) and FSDP on the CPU.

DDP with 2 CPU processes through ddp_cpu.yaml is tested on a text run in
tests/text/test_train.py (test_two_processes_match_one_process). FSDP cannot run on CPU through
accelerate 1.15 (it enables FSDP only on GPU-like devices): one test checks that such a launch is
refused with that reason, another runs the trainer's FSDP path on CPU with a test-only shim
(tests/distributed_train.py) and checks it against a one-process run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from maskdiff.configs import ACCELERATE_CONFIGS, accelerate_config

from . import distributed_train

SCRIPT = Path(distributed_train.__file__)
cpu_only = pytest.mark.skipif(torch.cuda.is_available(),
                              reason="launches 2 CPU processes; on a GPU machine they would use the GPUs")


def _launch(config: str, *args: str, processes: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(accelerate_config(config)), "--num_processes", str(processes),
           "--mixed_precision", "no", str(SCRIPT), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_shipped_configs_load_as_accelerate_configs():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    assert set(ACCELERATE_CONFIGS) == {"ddp", "fsdp", "ddp_cpu"}
    expected = {"ddp": (DistributedType.MULTI_GPU, "bf16"), "fsdp": (DistributedType.FSDP, "bf16"),
                "ddp_cpu": (DistributedType.MULTI_GPU, "no")}
    for name, (kind, precision) in expected.items():
        config = load_config_from_file(str(accelerate_config(name)))  # refuses unknown keys
        assert (config.distributed_type, config.mixed_precision) == (kind, precision), name
        assert config.num_machines == 1 and not config.use_cpu
    assert load_config_from_file(str(accelerate_config("ddp_cpu"))).num_processes == 2
    with pytest.raises(ValueError, match="no shipped accelerate config 'zero3'"):
        accelerate_config("zero3")
    printed = subprocess.run([sys.executable, "-m", "maskdiff.configs", "fsdp"], capture_output=True,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert printed.returncode == 0 and Path(printed.stdout.strip()) == accelerate_config("fsdp")


def test_fsdp_config_builds_an_fsdp2_plugin_that_wraps_each_transformer_block():
    """What `accelerate launch --config_file fsdp.yaml` hands each process (its environment) makes
    accelerate's FSDP plugin: version 2, full shard, one unit per TransformerBlock of the model."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from accelerate.utils.launch import prepare_multi_gpu_env

    from maskdiff.training import DiffusionObjective

    args = launch_command_parser().parse_args(
        ["--config_file", str(accelerate_config("fsdp")), "--num_processes", "8", "train.py"])
    args = _validate_launch_command(args)[0]
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_VERSION"] == "2"
    with mock.patch.dict(os.environ, env, clear=True):
        plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.transformer_cls_names_to_wrap == ["TransformerBlock"]
    objective = DiffusionObjective(distributed_train.model(), 0.0)
    plugin.set_auto_wrap_policy(objective)  # raises if the class is not in the model
    policy = fsdp2_prepare_auto_wrap_policy(plugin, objective)
    wrapped = [name for name, module in objective.named_modules() if policy(module)]
    assert wrapped == ["model.trunk.blocks.0", "model.trunk.blocks.1", "model.encoder.trunk.blocks.0"]


@cpu_only
def test_fsdp_launch_on_cpu_is_refused_with_the_reason(tmp_path):
    """accelerate 1.15 enables FSDP only on GPU-like devices: on CPU the processes would train as
    plain data parallel, unsharded, so the trainer stops with the reason."""
    run = _launch("fsdp", str(tmp_path / "run"))
    assert run.returncode != 0
    assert ("launched with FSDP, but accelerate set up MULTI_CPU on cpu: accelerate enables FSDP "
            "only on GPUs") in run.stderr
    assert not (tmp_path / "run" / "checkpoint").exists()


@cpu_only
def test_fsdp_path_on_cpu_with_a_test_shim_resumes_on_the_one_process_curve(tmp_path):
    """torch's FSDP2 runs on CPU over gloo; with accelerate's refusal shimmed (test only), a run
    sharded over 2 processes, killed after 3 steps and resumed from its step-2 checkpoint follows
    the one-process run: losses, evaluations, checkpoint (weights, EMA, optimiser state) and the
    returned model. Exercises the sharded EMA, clipping, accumulation without gradient sync,
    gathering for evaluation and checkpoints, and reloading a full checkpoint into shards."""
    one = distributed_train.run(tmp_path / "one")[0]
    killed = _launch("fsdp", str(tmp_path / "two"), "--fsdp-on-cpu", "--die-after", "3")
    assert killed.returncode != 0 and "killed" in killed.stderr, killed.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "checkpoint" / "config.json").read_text()
                      )["extra"]["step"] == 2
    resumed = _launch("fsdp", str(tmp_path / "two"), "--fsdp-on-cpu")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "parameters.json").read_text()) == {
        "prepared": "DTensor", "returned": "Parameter"}  # really sharded; returned whole

    rows = {d: [json.loads(line) for line in (tmp_path / d / "metrics.jsonl").open()]
            for d in ("one", "two")}
    losses = {d: [r["last"]["loss"] for r in rows[d] if "last" in r] for d in rows}
    assert len(losses["two"]) == 5 and losses["two"] == pytest.approx(losses["one"], abs=1e-5)
    evals = {d: [(r["step"], r["eval"]["score"]) for r in rows[d] if "eval" in r] for d in rows}
    assert [s for s, _ in evals["two"]] == [2, 4]  # step 2 before the kill, step 4 after
    # steps exactly, scores to rounding (pytest.approx compares nested tuples exactly)
    assert [s for s, _ in evals["one"]] == [2, 4]
    assert [v for _, v in evals["two"]] == pytest.approx([v for _, v in evals["one"]], abs=1e-5)

    def close(a: dict, b: dict):
        # The key bias of attention gets only rounding-noise gradients (softmax ignores it),
        # which Adam's normalisation turns into arbitrary steps: compared through `score` instead.
        for k in a:
            if not k.endswith("qkv.bias"):
                torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4, msg=k)

    from maskdiff import load_model
    from maskdiff.checkpoint import STATE_NAME

    final = torch.load(tmp_path / "two" / "final.pt")
    close(final, one.model.state_dict())
    model = distributed_train.model()
    model.load_state_dict(final)
    assert distributed_train.score(model) == pytest.approx(distributed_train.score(one.model), abs=1e-5)
    close(load_model(tmp_path / "two" / "checkpoint").state_dict(),
          load_model(tmp_path / "one" / "checkpoint").state_dict())
    states = [torch.load(tmp_path / d / "checkpoint" / STATE_NAME, weights_only=False)
              for d in ("two", "one")]
    close(states[0]["ema"], states[1]["ema"])
    assert states[0]["optimizer"]["state"].keys() == states[1]["optimizer"]["state"].keys()
    for i, s in states[1]["optimizer"]["state"].items():
        for k, v in s.items():  # the same full, unsharded optimiser state as one process keeps
            torch.testing.assert_close(states[0]["optimizer"]["state"][i][k], v, atol=1e-6, rtol=1e-3)
