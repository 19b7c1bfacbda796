"""Token streams, packing and random training windows."""

import numpy as np
import pytest
import torch

from maskdiff.tasks.text import RandomWindows, pack, prepare_text


def test_pack_drops_the_tail_and_caps():
    stream = np.arange(10, dtype=np.int32)
    assert pack(stream, 4).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert pack(stream, 3, max_sequences=2).shape == (2, 3)
    with pytest.raises(ValueError, match="holds no sequence"):
        pack(stream, 11)


def test_random_windows_are_slices_of_the_stream():
    stream = np.arange(100, dtype=np.int32)
    source = RandomWindows(stream, 8)
    batch = source.sample(16, torch.Generator().manual_seed(0))
    assert batch.x0.shape == (16, 8)
    assert torch.all(batch.x0[:, 1:] - batch.x0[:, :-1] == 1)
    again = source.sample(16, torch.Generator().manual_seed(0))
    assert torch.equal(batch.x0, again.x0)
    with pytest.raises(ValueError, match="fewer than one sequence"):
        RandomWindows(stream[:5], 8)


def test_prepare_text_joins_documents_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKDIFF_HOME", str(tmp_path / "home"))
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(20):
        (folder / f"d{i:02d}.txt").write_text(f"Doc {chr(97 + i)}!")
    data = prepare_text(str(folder), "char")
    train = data.decode(data.streams["train"])
    # d00 is the test document; "!" normalises to a space and a space separates documents
    assert train.startswith("doc b  doc c  ")
    assert data.decode(data.streams["test"]) == "doc a  "
    cached = list((tmp_path / "home" / "tokenized").rglob("*.npy"))
    assert len(cached) == 3
    again = prepare_text(str(folder), "char")
    assert np.array_equal(again.streams["train"], data.streams["train"])
