"""What the Triton kernels share: whether Triton is usable, tile shapes, launch checks.

Triton is optional at import time (it does not install on every platform); the kernels are only
defined when it imports. `TRITON_INTERPRET=1` must be set before this package is imported for the
kernels to run on CPU tensors (the interpreter: slow, used by the tests).
"""

from __future__ import annotations

import torch

try:  # pragma: no cover - exercised wherever triton is installed
    import triton
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
except ImportError:  # pragma: no cover - platforms without a triton wheel
    triton = tl = InterpretedFunction = None

__all__ = ["triton", "tl", "TRITON_AVAILABLE", "is_interpreted", "tile_shape", "as_rows",
           "FLOAT_DTYPES"]

TRITON_AVAILABLE = triton is not None
# Caps BLOCK_V when set (tests use it to make vocabularies span several tiles in the interpreter).
BLOCK_V_LIMIT: int | None = None
# dtypes the kernels load; arithmetic is always float32 inside (bf16/fp16 are cast on load).
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def is_interpreted(kernel) -> bool:
    """True when `kernel` was defined under TRITON_INTERPRET=1 (runs on CPU tensors)."""
    return InterpretedFunction is not None and isinstance(kernel, InterpretedFunction)


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def tile_shape(rows: int, vocab: int, interpreted: bool) -> tuple[int, int, int]:
    """(BLOCK_R, BLOCK_V, num_warps) for a (rows, vocab) row-wise pass.

    On a GPU, large vocabularies stream one row per program through tiles of up to 4096 columns
    (8 warps); small ones pack rows into 1024-element tiles (4 warps), since a V=10 row is only
    20-40 bytes. Larger multi-row tiles made the sampler spill registers on sm_90 (see
    `ahead_of_time`). The interpreter pays ~ms per program and per op, so it gets tiles of 2^16
    elements (numpy vectorises them). BLOCK_V must be at least 4: the sampler draws its random
    numbers four columns per Philox call.
    """
    cap = BLOCK_V_LIMIT or (1 << 16)
    if interpreted:
        block_v = min(max(_next_pow2(vocab), 16), 1 << 16, cap)
        return max(1, min(_next_pow2(rows), (1 << 16) // block_v)), block_v, 4
    block_v = min(max(_next_pow2(vocab), 16), 4096, cap)
    block_r = max(1, min(_next_pow2(rows), 1024 // block_v))
    return block_r, block_v, 8 if block_v >= 2048 else 4


def as_rows(x: torch.Tensor, what: str) -> torch.Tensor:
    """View (..., V) as (R, V) with unit stride along V (a copy only when that is not so)."""
    if x.dim() < 1:
        raise ValueError(f"{what} must have a vocabulary dimension, got a scalar")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{what} must be float32, float16 or bfloat16 for the Triton kernels, "
                        f"got {x.dtype}")
    rows = x.reshape(-1, x.shape[-1])
    return rows if rows.stride(-1) == 1 else rows.contiguous()
