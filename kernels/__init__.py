"""Hot-path kernels of maskdiff (installed as `maskdiff.kernels`).

Three ops, each a fused Triton kernel with a plain PyTorch reference of the same signature (the
CPU path and the test oracle):
- `masked_log_softmax`: log-softmax with the [MASK] logit at -inf and clean rows carried over;
- `gumbel_sample`: token + probability + top-1/top-2 + argmax (+ entropy) in one pass;
- `elbo_cross_entropy`: ELBO-weighted cross-entropy over masked rows, gradient written in place.
The engine calls only the dispatching names below; `MASKDIFF_KERNELS` (auto / triton /
reference, see `dispatch`) picks the implementation.

Modules: `masked_softmax`, `sampler`, `elbo_loss` (references); `*_triton` (kernels and their
autograd wrappers); `online_softmax` (the log-normaliser pass two kernels share);
`triton_support` (tile shapes, input checks); `dispatch`; `ahead_of_time` (compile every kernel
for sm_90 without a GPU and report registers and spills).
"""

from __future__ import annotations

import torch

from .dispatch import BACKENDS, ENV_VAR, backend_for, requested_backend
from .elbo_loss import elbo_cross_entropy_reference
from .masked_softmax import masked_log_softmax_reference
from .sampler import SampleOutput, gumbel_sample_reference
from .triton_support import TRITON_AVAILABLE

if TRITON_AVAILABLE:
    from .elbo_loss_triton import elbo_cross_entropy_triton
    from .masked_softmax_triton import masked_log_softmax_triton
    from .sampler_triton import gumbel_sample_triton


def masked_log_softmax(logits: torch.Tensor, mask_id: int,
                       xt: torch.Tensor | None = None) -> torch.Tensor:
    """log p (float32) over the vocabulary, [MASK] column at -inf; rows whose xt token is clean
    are carried over (0 at that token, -inf elsewhere). Differentiable."""
    if backend_for(logits) == "triton":
        return masked_log_softmax_triton(logits, mask_id, xt)
    return masked_log_softmax_reference(logits, mask_id, xt)


def gumbel_sample(logits: torch.Tensor, mask_id: int, *, temperature: float = 1.0,
                  generator: torch.Generator | None = None,
                  with_entropy: bool = False) -> SampleOutput:
    """One token per row of logits (R, V) by Gumbel-max at `temperature` (0: greedy), never the
    [MASK] id nor a -inf logit, with its probability, top-1/top-2, argmax and optional entropy.
    The same generator state gives the same tokens (per implementation: the reference draws
    float64 noise from the generator, Triton a Philox stream keyed by a seed drawn from it)."""
    if backend_for(logits) == "triton":
        return gumbel_sample_triton(logits, mask_id, temperature=temperature,
                                    generator=generator, with_entropy=with_entropy)
    return gumbel_sample_reference(logits, mask_id, temperature=temperature,
                                   generator=generator, with_entropy=with_entropy)


def elbo_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask_id: int,
                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-row w * (logsumexp over non-mask logits - logit[target]) in float32.

    On the Triton path with a gradient to compute, `logits` is overwritten by its gradient during
    the forward pass (one buffer instead of an fp32 copy): callers must not read it afterwards.
    """
    if backend_for(logits) == "triton":
        return elbo_cross_entropy_triton(logits, targets, mask_id, weights)
    return elbo_cross_entropy_reference(logits, targets, mask_id, weights)


__all__ = ["masked_log_softmax", "gumbel_sample", "elbo_cross_entropy", "SampleOutput",
           "masked_log_softmax_reference", "gumbel_sample_reference",
           "elbo_cross_entropy_reference", "ENV_VAR", "BACKENDS", "backend_for",
           "requested_backend", "TRITON_AVAILABLE"]
if TRITON_AVAILABLE:
    __all__ += ["masked_log_softmax_triton", "gumbel_sample_triton", "elbo_cross_entropy_triton"]
