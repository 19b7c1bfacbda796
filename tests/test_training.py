import pytest
import torch

from maskdiff import MaskedDiffusionModel, ModelConfig, TrainConfig, kl_weight, load_model, train
from maskdiff.tasks.synthetic import get_dataset


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


def _model(latent_dim=4):
    torch.manual_seed(0)
    return MaskedDiffusionModel(ModelConfig(vocab_size=10, seq_len=4, d_model=16, n_layers=1,
                                            n_heads=2, block_size=2, latent_dim=latent_dim))


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
                                         ("schedule", "nope"), ("t_max", 0.0), ("t_min", 1.0)])
def test_train_config_errors(field, value):
    with pytest.raises(ValueError, match=field if field != "schedule" else "unknown noise schedule"):
        TrainConfig(**{field: value})


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
