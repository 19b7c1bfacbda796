"""Shared inputs and comparisons for the Triton kernel tests.

They run on the CPU interpreter (TRITON_INTERPRET=1, set by conftest.py). On a CUDA machine the
same tests run the compiled kernels on the GPU with:

    MASKDIFF_TEST_DEVICE=cuda TRITON_INTERPRET=0 python -m pytest -q tests/test_kernels_*.py

Inputs are made on the CPU, moved to DEVICE for the kernel, and results compared on the CPU.
"""

import dataclasses
import math
import os

import torch

from maskdiff.kernels import triton_support

DEVICE = torch.device(os.environ.get("MASKDIFF_TEST_DEVICE", "cpu"))

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (rows, V, BLOCK_V cap): a single row, V not a power of two, V spanning several tiles,
# V above the interpreter's largest tile (2^16).
SHAPES = [(1, 7, None), (37, 10, None), (300, 28, None), (6, 1000, 256), (3, 70001, None)]
SHAPE_IDS = [f"{r}x{v}" + (f"-tile{c}" if c else "") for r, v, c in SHAPES]


def random_logits(rows, vocab, dtype, seed=0, scale=4.0):
    """Random logits with -inf entries and extreme values; finite at least at columns 0-1."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, vocab, generator=g) * scale
    big = 6e4 if dtype == torch.float16 else 1e4
    if vocab > 4:
        x[0, 2] = -math.inf
        x[rows // 2, 3] = big  # one huge logit: the online max must rescale
        x[rows - 1, 4] = -big
    return x.to(dtype)


def capped_tiles(monkeypatch, cap):
    if cap is not None:
        monkeypatch.setattr(triton_support, "BLOCK_V_LIMIT", cap)


def assert_close(actual, expected, what, atol, rtol=0.0):
    """Elementwise |a - e| <= atol + rtol |e| on finite entries, same infinities; reports the
    worst mismatch."""
    a, e = actual.double(), expected.double()
    assert a.shape == e.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(e.shape)}"
    assert torch.equal(torch.isinf(a), torch.isinf(e)), f"{what}: infinities differ"
    assert not torch.isnan(a).any(), f"{what}: NaN in the kernel output"
    fin = torch.isfinite(e)
    err = (a[fin] - e[fin]).abs()
    bound = atol + rtol * e[fin].abs()
    if err.numel() and bool((err > bound).any()):
        worst = int((err - bound).argmax())
        raise AssertionError(f"{what}: worst mismatch {float(err[worst]):.3g} (kernel "
                             f"{float(a[fin][worst]):.8g}, reference {float(e[fin][worst]):.8g}, "
                             f"allowed {float(bound[worst]):.3g})")


def eps(dtype):
    return torch.finfo(dtype).eps


def to_device(x):
    return x.to(DEVICE) if isinstance(x, torch.Tensor) else x


def to_cpu(out):
    """Tensors, and dataclasses of tensors (SampleOutput), back on the CPU."""
    if isinstance(out, torch.Tensor):
        return out.cpu()
    if dataclasses.is_dataclass(out):
        return dataclasses.replace(out, **{f.name: to_cpu(getattr(out, f.name))
                                           for f in dataclasses.fields(out)})
    return out


def on_device(fn, *args, **kwargs):
    """fn(*args, **kwargs) with tensor arguments on DEVICE; the result back on the CPU."""
    return to_cpu(fn(*map(to_device, args), **{k: to_device(v) for k, v in kwargs.items()}))
