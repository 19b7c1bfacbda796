"""Which implementation runs: the fused Triton kernel or the PyTorch reference.

`MASKDIFF_KERNELS` chooses, read at every call so it can be changed at run time:
- `auto` (default): Triton for CUDA tensors in float32/float16/bfloat16, the reference otherwise
  (CPU tensors, float64, or no triton installed);
- `triton`: always Triton. CPU tensors then need the interpreter (`TRITON_INTERPRET=1` set
  before maskdiff is imported): slow, meant for tests;
- `reference`: always the PyTorch reference (the float64-noise sampler, eager losses).
"""

from __future__ import annotations

import os

import torch

from .triton_support import FLOAT_DTYPES, INTERPRETED, TRITON_AVAILABLE

__all__ = ["ENV_VAR", "BACKENDS", "requested_backend", "backend_for"]

ENV_VAR = "MASKDIFF_KERNELS"
BACKENDS = ("auto", "triton", "reference")


def requested_backend() -> str:
    """The value of MASKDIFF_KERNELS (default `auto`), validated."""
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in BACKENDS:
        raise ValueError(f"{ENV_VAR}={choice!r} is not a kernel backend; "
                         f"use one of {', '.join(BACKENDS)}")
    return choice


def backend_for(tensor: torch.Tensor) -> str:
    """`triton` or `reference` for an op on `tensor`."""
    choice = requested_backend()
    if choice == "reference":
        return "reference"
    if choice == "auto":
        usable = TRITON_AVAILABLE and tensor.is_cuda and tensor.dtype in FLOAT_DTYPES
        return "triton" if usable else "reference"
    if not TRITON_AVAILABLE:
        raise RuntimeError(f"{ENV_VAR}=triton but triton is not installed "
                           f"(pip install triton, Linux only)")
    if not tensor.is_cuda and not INTERPRETED:
        raise RuntimeError(f"{ENV_VAR}=triton on {tensor.device} tensors needs Triton's "
                           f"interpreter: set TRITON_INTERPRET=1 before importing maskdiff")
    return "triton"
