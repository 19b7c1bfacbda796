"""Text runs from a config file: one and two processes, resume, evaluation, bad input."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from maskdiff.cli import main
from maskdiff.models import load_model
from maskdiff.recipe import read_recipe_file
from maskdiff.tasks.text.train import load_text_recipe

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly hex "
         "every jovial boxer and some more plain words follow here").split()


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A small local corpus (24 documents) and a private data home."""
    monkeypatch.setenv("MASKDIFF_HOME", str(tmp_path / "home"))
    folder = tmp_path / "corpus"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(24):
        idx = torch.randint(0, len(WORDS), (120,), generator=g).tolist()
        (folder / f"doc{i:02d}.txt").write_text(" ".join(WORDS[j] for j in idx) + "\n")
    return folder


def _config(tmp_path, corpus, **train):
    cfg = {"task": "text", "data": {"corpus": str(corpus), "tokenizer": "char"},
           "model": {"seq_len": 16, "block_size": 4, "latent_dim": 4, "d_model": 32,
                     "n_layers": 1, "n_heads": 2},
           "train": {"steps": 6, "batch_size": 8, "log_every": 1, "warmup_steps": 2,
                     "checkpoint_every": 3, "progress": False, **train},
           "eval": {"passes": 2, "max_sequences": 8, "num_latents": 2, "samples": 1}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(cfg))
    return path


def _losses(run):
    return [json.loads(line)["last"]["loss"] for line in (run / "metrics.jsonl").open()
            if "last" in line]


def test_train_command_writes_model_results_and_samples(tmp_path, corpus, capsys):
    cfg = _config(tmp_path, corpus)
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "test perplexity <=" in out and "sample:" in out
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["method"] == "block-vmd-b4" and record["vocab_size"] == 27
    assert record["tokens_seen"] == 6 * 8 * 16 and "marginal" in record["bound_kind"]
    assert 1 < record["ppl_bound"] < 60
    # The "marginal" label is what the number is: the marginal bound of the saved model on the
    # first 8 test sequences, 2 latents, 2 passes drawn from one generator seeded with eval.seed.
    from maskdiff.evaluation import marginal_bound
    from maskdiff.tasks.text.streams import pack, prepare_text

    test_sequences = pack(prepare_text(str(corpus), "char").streams["test"], 16, 8)
    saved_model = load_model(tmp_path / "run" / "model").eval()
    g = torch.Generator().manual_seed(0)
    nats = [marginal_bound(saved_model, test_sequences, num_latents=2, num_times=1, generator=g)[0]
            for _ in range(2)]
    assert record["nats_per_token"] == pytest.approx(sum(nats) / 2, rel=1e-5)
    assert record["ppl_bound"] == pytest.approx(math.exp(sum(nats) / 2), rel=1e-5)
    # ... and not the double-ELBO objective reported beside it.
    assert abs(record["vmd_objective_nats"] - record["nats_per_token"]) > 1e-3
    assert len(_losses(tmp_path / "run")) == 6
    # the model carries its recipe, with the sampler its samples are drawn by
    from maskdiff.models import read_config
    saved = read_config(tmp_path / "run" / "model")[1]["recipe"]
    assert saved["task"] == "text" and saved["sampler"]["method"] == "ancestral"
    # `text eval` reads the saved model and tokenizer back
    assert main(["text", "eval", "--model", str(tmp_path / "run" / "model"), "--passes", "2",
                 "--max-sequences", "4", "--num-latents", "2", "--samples", "1"]) == 0
    assert "test perplexity <=" in capsys.readouterr().out
    assert main(["text", "eval", "--model", str(tmp_path / "run" / "model"),
                 "--seq-len", "64"]) == 2
    assert "above the model's maximum 16" in capsys.readouterr().err
    # `sample` decodes text models with their tokenizer
    assert main(["sample", "--model", str(tmp_path / "run" / "model"), "--num", "2",
                 "--nfe", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(s) == 16 and set(s) <= set(" abcdefghijklmnopqrstuvwxyz")
                                   for s in lines)


def test_two_processes_match_one_process(tmp_path, corpus):
    """accelerate launch with the shipped 2-process config (ddp_cpu.yaml: CPU processes, gloo)
    and the same global batch follows the one-process run: same losses, same weights."""
    from maskdiff.configs import accelerate_config

    cfg = _config(tmp_path, corpus, checkpoint_every=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "maskdiff", "train", "--config", str(cfg), "--set",
            "eval.samples=0", "--out"]
    one = subprocess.run(base + [str(tmp_path / "one")], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-2000:]
    # `--cpu` would start a single process; the config's multi-GPU (torchrun) launcher starts
    # two, and the trainer's Accelerator(cpu=True) joins them over gloo.
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
              str(accelerate_config("ddp_cpu")), "-m", "maskdiff", "train", "--config", str(cfg),
              "--set", "eval.samples=0", "--out", str(tmp_path / "two")]
    two = subprocess.run(launch, env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    record = json.loads((tmp_path / "two" / "results.json").read_text())
    assert record["num_processes"] == 2
    assert _losses(tmp_path / "two") == pytest.approx(_losses(tmp_path / "one"), abs=1e-5)
    # Same function (weights are compared through their outputs: the key bias of attention gets
    # only rounding-noise gradients, which Adam's normalisation turns into arbitrary steps).
    a = load_model(tmp_path / "one" / "checkpoint")
    b = load_model(tmp_path / "two" / "checkpoint")
    x = torch.randint(0, 27, (4, 16), generator=torch.Generator().manual_seed(0))
    xt = x.masked_fill(torch.rand(4, 16, generator=torch.Generator().manual_seed(1)) < 0.5, 27)
    z = torch.randn(4, 4, 4)
    with torch.no_grad():
        la = a.logits(a.training_layout(xt, x), None, z)
        lb = b.logits(b.training_layout(xt, x), None, z)
    torch.testing.assert_close(la, lb, atol=1e-4, rtol=1e-4)


def test_killed_text_run_resumes_on_the_same_curve(tmp_path, corpus):
    import maskdiff.tasks.text.train as text_train

    cfg = _config(tmp_path, corpus, ema_decay=0.9, steps=8)
    overrides = ["--set", "eval.samples=0"]
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "a")] + overrides) == 0

    class Killed(Exception):
        pass

    class DiesAfterFiveBatches(text_train.RandomWindows):
        left = 5

        def sample(self, batch_size, generator):
            if DiesAfterFiveBatches.left == 0:
                raise Killed()
            DiesAfterFiveBatches.left -= 1
            return super().sample(batch_size, generator)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Killed):
        patch.setattr(text_train, "RandomWindows", DiesAfterFiveBatches)
        # killed during step 6; the last checkpoint is step 3
        main(["train", "--config", str(cfg), "--out", str(tmp_path / "b")] + overrides)
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "b")] + overrides) == 0
    assert _losses(tmp_path / "b") == _losses(tmp_path / "a") and len(_losses(tmp_path / "a")) == 8
    ra = json.loads((tmp_path / "a" / "results.json").read_text())
    rb = json.loads((tmp_path / "b" / "results.json").read_text())
    assert ra["ppl_bound"] == rb["ppl_bound"]


@pytest.mark.parametrize("text,message", [
    ("task: text\nmodle: {}\n", "unknown config keys \\['modle'\\]"),
    ("corpus: x\n", "unknown config keys \\['corpus'\\]"),  # corpus lives under data:
    ("train: {stepz: 3}\n", "unknown train settings \\['stepz'\\]"),
    ("train: {steps: 0}\n", "TrainConfig.steps must be >= 1"),
    ("corpus: [unclosed\n", "cannot parse"),
])
def test_bad_config_files_are_named(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_text_recipe(cfg)


def test_bad_runs_are_named(tmp_path, corpus, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    good = _config(tmp_path, corpus)
    assert main(["train", "--config", str(good), "--out", str(tmp_path / "r"),
                 "--set", "data.tokenizer=klingon"]) == 2
    assert "unknown tokenizer 'klingon'" in capsys.readouterr().err
    assert main(["train", "--config", str(good), "--out", str(tmp_path / "r"),
                 "--set", "data.corpus=" + str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_corrupted_checkpoint_is_a_clear_error(tmp_path, corpus, capsys):
    cfg = _config(tmp_path, corpus)
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(run), "--set", "train.steps=3",
                 "eval.samples=0"]) == 0
    state = run / "checkpoint" / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:100])  # truncated
    assert main(["train", "--config", str(cfg), "--out", str(run)]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err
    weights = run / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    assert main(["text", "eval", "--model", str(run / "model")]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err


def test_example_config_is_the_benchmark_row():
    from pathlib import Path

    from maskdiff.tasks.text.benchmark import row_config

    path = (Path(__file__).resolve().parents[2] / "tasks" / "text" / "configs"
            / "shakespeare_block_vmd_b4.yaml")
    config, row = read_recipe_file(path), row_config("block-vmd-b4")
    assert config["task"] == row["task"] == "text"
    assert config["model"] == row["model"] and config["data"] == row["data"]
    assert all(config["train"][k] == v for k, v in row["train"].items()
               if k != "mixed_precision")  # "auto" resolves to "no" on the CPU
