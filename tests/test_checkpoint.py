import json

import pytest
import torch

from maskdiff.checkpoint import (
    CHECKPOINT_DIR,
    STATE_NAME,
    MetricsLog,
    load_checkpoint,
    save_checkpoint,
)
from maskdiff.models import read_config

from .conftest import tiny_model


def _save(out_dir, step, seed=0):
    model = tiny_model(seed=seed)
    save_checkpoint(out_dir, model, {"step": step}, {"step": step})
    return model


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_round_trip_keeps_model_state_and_metadata(tmp_path):
    model = _save(tmp_path, 3)
    loaded, state = load_checkpoint(tmp_path)
    assert state == {"step": 3} and loaded.config == model.config and _same_weights(loaded, model)
    assert read_config(tmp_path / CHECKPOINT_DIR)[1] == {"step": 3}
    assert load_checkpoint(tmp_path / "empty") is None


def test_a_newer_checkpoint_replaces_the_old_one(tmp_path):
    _save(tmp_path, 1)
    newer = _save(tmp_path, 2, seed=1)
    loaded, state = load_checkpoint(tmp_path)
    assert state["step"] == 2 and _same_weights(loaded, newer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_DIR]


def test_killed_between_the_renames_loads_the_previous_checkpoint(tmp_path):
    first = _save(tmp_path, 1)
    (tmp_path / CHECKPOINT_DIR).rename(tmp_path / (CHECKPOINT_DIR + ".old"))
    (tmp_path / (CHECKPOINT_DIR + ".tmp")).mkdir()  # a half-written newer one
    loaded, state = load_checkpoint(tmp_path)
    assert state["step"] == 1 and _same_weights(loaded, first)
    _save(tmp_path, 2)  # the next save clears both leftovers
    assert load_checkpoint(tmp_path)[1]["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_DIR]


def test_a_damaged_state_file_is_a_clear_error(tmp_path):
    _save(tmp_path, 1)
    path = tmp_path / CHECKPOINT_DIR / STATE_NAME
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_checkpoint(tmp_path)


def test_metrics_log_keeps_only_rows_up_to_the_resumed_step(tmp_path):
    path = tmp_path / "logs" / "metrics.jsonl"
    log = MetricsLog(path, resume_step=0)
    for step in (1, 2, 3):
        log.write({"step": step})
    with path.open("a") as f:
        f.write('{"step": 4, "trunc')  # killed mid-line
    MetricsLog(path, resume_step=2).write({"step": 3, "again": True})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"step": 1}, {"step": 2}, {"step": 3, "again": True}]
    MetricsLog(path, resume_step=0)  # a fresh run starts an empty log
    assert path.read_text() == ""


def test_a_disabled_metrics_log_writes_nothing(tmp_path):
    MetricsLog(tmp_path / "metrics.jsonl", resume_step=0, enabled=False).write({"step": 1})
    MetricsLog(None, resume_step=0).write({"step": 1})
    assert not (tmp_path / "metrics.jsonl").exists()
