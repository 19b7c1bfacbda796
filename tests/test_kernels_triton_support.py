"""Tile shapes and input handling shared by the Triton kernels."""

import pytest
import torch

from maskdiff.kernels.triton_support import as_rows, tile_shape


@pytest.mark.parametrize("vocab", [2, 10, 28, 1000, 4096, 4097, 50257, 151936])
@pytest.mark.parametrize("rows", [1, 3, 1024, 65536])
def test_tile_shapes(rows, vocab):
    gpu = tile_shape(rows, vocab, interpreted=False)
    cpu = tile_shape(rows, vocab, interpreted=True)
    block_r, block_v, warps = gpu
    assert block_v == cpu[1], "the sampler's random stream depends on the tile width"
    assert 16 <= block_v <= 4096 and block_v & (block_v - 1) == 0
    assert block_v >= min(vocab, 4096)
    assert block_r >= 1 and (block_r == 1 or block_r * block_v <= 1024)
    assert block_r <= max(1, rows) * 2  # no more rows per program than needed (power of two)
    assert warps == 8 if (block_r > 1 or block_v >= 2048) else warps == 4
    assert cpu[0] * cpu[1] <= 1 << 16


def test_rows_view_and_dtype_errors():
    x = torch.randn(2, 3, 7)
    assert as_rows(x, "logits").shape == (6, 7)
    strided = torch.randn(7, 6).t()  # V is not the unit-stride dimension
    rows = as_rows(strided, "logits")
    assert rows.stride(-1) == 1 and torch.equal(rows, strided)
    with pytest.raises(TypeError, match="logits must be float32, float16 or bfloat16"):
        as_rows(torch.zeros(2, 3, dtype=torch.float64), "logits")
    with pytest.raises(ValueError, match="vocabulary dimension"):
        as_rows(torch.tensor(1.0), "logits")
