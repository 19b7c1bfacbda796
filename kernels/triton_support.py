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

__all__ = ["triton", "tl", "TRITON_AVAILABLE", "INTERPRETED", "tile_shape", "as_rows",
           "FLOAT_DTYPES"]

TRITON_AVAILABLE = triton is not None
# Caps on the tile shape when set (tests use them to make a vocabulary span several tiles, or to
# change how many rows one program takes).
BLOCK_V_LIMIT: int | None = None
BLOCK_R_LIMIT: int | None = None
# dtypes the kernels load; arithmetic is always float32 inside (bf16/fp16 are cast on load).
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def is_interpreted(kernel) -> bool:
    """True when `kernel` was defined under TRITON_INTERPRET=1 (runs on CPU tensors)."""
    return InterpretedFunction is not None and isinstance(kernel, InterpretedFunction)


def _kernels_are_interpreted() -> bool:
    """Whether the kernels of this package run on Triton's interpreter: they are all defined at
    import, right after this probe, so they get the decision the probe gets."""
    if not TRITON_AVAILABLE:
        return False

    @triton.jit
    def probe():
        pass

    return is_interpreted(probe)


# True when TRITON_INTERPRET=1 was set before import: the kernels then run on CPU tensors.
INTERPRETED = _kernels_are_interpreted()


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def tile_shape(rows: int, vocab: int, interpreted: bool) -> tuple[int, int, int]:
    """(BLOCK_R, BLOCK_V, num_warps) for a (rows, vocab) row-wise pass.

    Large vocabularies stream one row per program through tiles of up to 4096 columns; small ones
    pack rows into 1024-element tiles, since a V=10 row is only 20-40 bytes. Multi-row tiles get
    8 warps (4 elements a thread): with 4 warps, or larger tiles, the sampler used 128-255
    registers on sm_90 and spilled (see `ahead_of_time`). The tile width is the same on the
    interpreter, so that the sampler's random stream (which depends on it) matches; the
    interpreter pays ~ms per program and per op, so it takes up to 2^16 elements per program by
    packing more rows. BLOCK_V must be at
    least 4: the sampler draws its random numbers four columns per Philox call.
    """
    block_v = min(max(_next_pow2(vocab), 16), 4096, BLOCK_V_LIMIT or 4096)
    if interpreted:
        block_r = min(_next_pow2(rows), (1 << 16) // block_v)
        warps = 4
    else:
        block_r = min(_next_pow2(rows), 1024 // block_v)
        warps = 8 if block_v >= 2048 or block_r > 1 else 4
    return max(1, min(block_r, BLOCK_R_LIMIT or block_r)), block_v, warps


def as_rows(x: torch.Tensor, what: str) -> torch.Tensor:
    """View (..., V) as (R, V) with unit stride along V (a copy only when that is not so)."""
    if x.dim() < 1:
        raise ValueError(f"{what} must have a vocabulary dimension, got a scalar")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{what} must be float32, float16 or bfloat16 for the Triton kernels, "
                        f"got {x.dtype}")
    rows = x.reshape(-1, x.shape[-1])
    return rows if rows.stride(-1) == 1 else rows.contiguous()
