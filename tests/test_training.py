import math
from dataclasses import replace

import pytest
import torch

from maskdiff import (
    Batch,
    MaskedDiffusionModel,
    ModelConfig,
    TrainConfig,
    diffusion_loss,
    kl_weight,
    load_model,
    train,
)
from maskdiff.objectives import draw_training_noise


class Uniform:
    """A batch source drawing uniformly from a fixed set of sequences."""

    def __init__(self, sequences):
        self.sequences = torch.tensor(sequences)
        self.probs = torch.full((len(sequences),), 1 / len(sequences), dtype=torch.float64).float()

    def sample(self, batch_size, generator):
        idx = torch.multinomial(self.probs, batch_size, replacement=True, generator=generator)
        return Batch(self.sequences[idx])


def get_dataset(name):
    """The synthetic sets D1 (k, k+1, k+2, k+3) and D2 (k, k+1, l, l+1), digits mod 10."""
    if name == "d1":
        return Uniform([[(k + j) % 10 for j in range(4)] for k in range(10)])
    return Uniform([[k, (k + 1) % 10, l, (l + 1) % 10] for k in range(10) for l in range(10)])


class Killed(RuntimeError):
    pass


class DiesAfter:
    """A batch source that raises after `n` batches, as a killed process would stop."""

    def __init__(self, data, n):
        self.data, self.n = data, n

    def sample(self, batch_size, generator):
        if self.n == 0:
            raise Killed()
        self.n -= 1
        return self.data.sample(batch_size, generator)


def _model(latent_dim=4, **overrides):
    torch.manual_seed(0)
    return MaskedDiffusionModel(ModelConfig(vocab_size=10, seq_len=4, d_model=16, n_layers=1,
                                            n_heads=2, block_size=2, latent_dim=latent_dim,
                                            **overrides))


def test_killed_run_resumes_exactly(tmp_path):
    data = get_dataset("d2")
    cfg = TrainConfig(steps=12, batch_size=16, checkpoint_every=5, kl_warmup_steps=6,
                      progress=False, log_every=1)
    straight = train(_model(), data, cfg, out_dir=tmp_path / "a")
    with pytest.raises(Killed):
        train(_model(), DiesAfter(data, 7), cfg, out_dir=tmp_path / "b")
    resumed = train(_model(), data, cfg, out_dir=tmp_path / "b")
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]
    assert load_model(tmp_path / "b" / "checkpoint").config == straight.model.config


def test_training_lowers_the_bound():
    data = get_dataset("d1")
    result = train(_model(latent_dim=0), data, TrainConfig(steps=150, batch_size=64, lr=3e-3,
                                                           progress=False, log_every=10))
    assert result.history[-1]["bound"] < 0.8 * result.history[0]["bound"]


def test_checkpoint_of_other_model_refused(tmp_path):
    data = get_dataset("d1")
    cfg = TrainConfig(steps=2, batch_size=4, progress=False)
    train(_model(), data, cfg, out_dir=tmp_path)
    with pytest.raises(ValueError, match="different model config"):
        train(_model(latent_dim=0), data, TrainConfig(steps=4, batch_size=4, progress=False),
              out_dir=tmp_path)


def test_kl_weight_ramps():
    assert [kl_weight(s, 4) for s in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0


@pytest.mark.parametrize("field,value", [("steps", 0), ("lr", 0.0), ("batch_size", -1),
                                         ("t_max", 0.0), ("t_min", 1.0)])
def test_train_config_errors(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("schedule", ["cosine", "polynomial"])
def test_trainer_uses_the_model_schedule(schedule):
    """The first step's loss is the loss under the model's schedule, drawn as the trainer draws."""
    data, model = get_dataset("d2"), _model(time_conditioning=True, schedule=schedule)
    g = torch.Generator().manual_seed(0)
    x0 = data.sample(8, g).x0
    noise = draw_training_noise(model, schedule, 8, generator=g)
    expected = float(diffusion_loss(model, x0, schedule, noise=noise).loss.detach())
    other = float(diffusion_loss(model, x0, "linear", noise=noise).loss.detach())
    result = train(model, data, TrainConfig(steps=1, batch_size=8, progress=False, log_every=1))
    assert result.history[0]["loss"] == pytest.approx(expected, abs=1e-5)
    assert result.history[0]["loss"] != pytest.approx(other, abs=1e-3)


def test_periodic_evaluation_runs_in_eval_mode():
    seen = []

    def evaluate(model):
        seen.append(model.training)
        return {"score": 1.0}

    result = train(_model(), get_dataset("d1"), TrainConfig(steps=4, batch_size=4, eval_every=2,
                                                            progress=False, log_every=1),
                   evaluate=evaluate)
    assert seen == [False, False]
    assert [h["step"] for h in result.history if "eval" in h] == [2, 4]


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_gradient_accumulation_matches_the_full_batch():
    data = get_dataset("d2")
    full = train(_model(), data, TrainConfig(steps=6, batch_size=16, progress=False, log_every=1))
    accum = train(_model(), data, TrainConfig(steps=6, batch_size=16, grad_accum_steps=4,
                                              progress=False, log_every=1))
    torch.testing.assert_close(_params(accum.model), _params(full.model), atol=1e-5, rtol=1e-4)
    assert [h["loss"] for h in accum.history] == pytest.approx([h["loss"] for h in full.history],
                                                               abs=1e-5)


def test_ema_weights_are_returned_and_resumed(tmp_path):
    data = get_dataset("d2")
    cfg = TrainConfig(steps=10, batch_size=8, ema_decay=0.9, checkpoint_every=4, progress=False)
    plain = train(_model(), data, TrainConfig(steps=10, batch_size=8, progress=False))
    straight = train(_model(), data, cfg, out_dir=tmp_path / "a")
    # The EMA lags the raw weights (same raw trajectory as without EMA)
    raw = load_model(tmp_path / "a" / "checkpoint")
    torch.testing.assert_close(_params(raw), _params(plain.model))
    assert not torch.allclose(_params(straight.model), _params(raw))
    with pytest.raises(Killed):
        train(_model(), DiesAfter(data, 6), cfg, out_dir=tmp_path / "b")
    resumed = train(_model(), data, cfg, out_dir=tmp_path / "b")
    assert torch.equal(_params(resumed.model), _params(straight.model))


def test_metrics_log_has_each_step_once_after_a_resume(tmp_path):
    import json

    data = get_dataset("d2")
    cfg = TrainConfig(steps=10, batch_size=8, checkpoint_every=4, log_every=1, progress=False)
    with pytest.raises(Killed):
        train(_model(), DiesAfter(data, 7), cfg, out_dir=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 8))  # steps 5-7 logged, then killed
    train(_model(), data, cfg, out_dir=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert {"loss", "bound", "kl", "lr", "last"} <= set(rows[0])


def test_bf16_mixed_precision_trains_on_cpu():
    data = get_dataset("d1")
    result = train(_model(latent_dim=0), data, TrainConfig(steps=3, batch_size=8, progress=False,
                                                           mixed_precision="bf16", log_every=1))
    assert all(math.isfinite(h["loss"]) for h in result.history)


def test_batch_must_split_over_accumulation_steps():
    with pytest.raises(ValueError, match="grad_accum_steps"):
        TrainConfig(batch_size=10, grad_accum_steps=4)
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_resuming_with_a_changed_training_config_names_the_fields(tmp_path):
    data = get_dataset("d1")
    cfg = TrainConfig(steps=3, batch_size=8, progress=False, ema_decay=0.9)
    train(_model(latent_dim=0), data, cfg, out_dir=tmp_path)
    changed = replace(cfg, batch_size=4, lr=0.01, ema_decay=0.0)
    with pytest.raises(ValueError, match=r"different run \(batch_size: 8 -> 4; lr: 0.001 -> 0.01; "
                                         r"ema_decay: 0.9 -> 0.0\)"):
        train(_model(latent_dim=0), data, changed, out_dir=tmp_path)
    train(_model(latent_dim=0), data, cfg, out_dir=tmp_path / "other", identity={"n": 1})
    with pytest.raises(ValueError, match=r"data: \{'n': 1\} -> \{'n': 2\}"):
        train(_model(latent_dim=0), data, replace(cfg, steps=6), out_dir=tmp_path / "other",
              identity={"n": 2})
    with pytest.raises(ValueError, match="past this run's 2 steps"):
        train(_model(latent_dim=0), data, replace(cfg, steps=2), out_dir=tmp_path)
    # Extending the schedule is allowed, and the history records it.
    extended = train(_model(latent_dim=0), data, replace(cfg, steps=5, log_every=1), out_dir=tmp_path)
    assert {"step": 3, "resumed_with": {"steps": {"was": 3, "now": 5}}} in extended.history


def test_a_checkpoint_without_its_trainer_state_is_refused(tmp_path):
    from maskdiff.checkpoint import CHECKPOINT_DIR, STATE_NAME

    data = get_dataset("d1")
    cfg = TrainConfig(steps=2, batch_size=8, progress=False, log_every=1)
    train(_model(latent_dim=0), data, cfg, out_dir=tmp_path)
    metrics = (tmp_path / "metrics.jsonl").read_text()
    (tmp_path / CHECKPOINT_DIR / STATE_NAME).unlink()
    with pytest.raises(ValueError, match="has no trainer_state.pt .* cannot resume where it stopped"):
        train(_model(latent_dim=0), data, replace(cfg, steps=4), out_dir=tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text() == metrics  # nothing rewritten


# The run the SIGKILL test kills: its child process and the test build it from these.
SIGKILL_RUN = dict(steps=150, batch_size=16, checkpoint_every=1, kl_warmup_steps=6,
                   ema_decay=0.9, progress=False, log_every=1)


def _checkpointed_run(out_dir, data=None):
    return train(_model(), data or get_dataset("d2"), TrainConfig(**SIGKILL_RUN), out_dir=out_dir)


def test_a_run_killed_with_sigkill_resumes_exactly(tmp_path):
    """A real kill: no exception handler, no finally block, no flushed buffers; it may land in the
    middle of a checkpoint or a metrics line. The resumed run must still equal an unbroken one."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from maskdiff.checkpoint import CHECKPOINT_DIR, METRICS_NAME, checkpoint_metadata

    run = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.test_training import _checkpointed_run; "
                               "_checkpointed_run(sys.argv[1])", str(run)],
        # the child computes with as many threads as this process, so the float sums agree
        cwd=Path(__file__).parents[1],
        env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = run / METRICS_NAME
    deadline = time.monotonic() + 60
    while not ((run / CHECKPOINT_DIR).is_dir() and metrics.is_file()
               and metrics.read_text().count("\n") >= 5):
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the child run made no checkpoint within 60 s"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL  # killed mid-run, not finished
    child.stderr.close()
    killed_at = checkpoint_metadata(run)["step"]
    assert 0 < killed_at < SIGKILL_RUN["steps"]

    class Counted:
        """d2, counting the batches drawn: a resume trains only the steps left."""

        def __init__(self):
            self.data, self.batches = get_dataset("d2"), 0

        def sample(self, batch_size, generator):
            self.batches += 1
            return self.data.sample(batch_size, generator)

    data = Counted()
    resumed = _checkpointed_run(run, data)
    assert data.batches == SIGKILL_RUN["steps"] - killed_at
    straight = train(_model(), get_dataset("d2"), TrainConfig(**SIGKILL_RUN))
    for (k, a), (_, b) in zip(straight.model.state_dict().items(),
                              resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, SIGKILL_RUN["steps"] + 1))
