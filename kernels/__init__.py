"""Hot-path kernels of maskdiff (installed as `maskdiff.kernels`).

Each op has a plain PyTorch reference, which is the CPU path and the test oracle:
- `masked_log_softmax`: log-softmax with the [MASK] logit at -inf and clean rows carried over;
- `gumbel_sample`: token + probability + top-1/top-2 + argmax (+ entropy) in one pass;
- `elbo_cross_entropy`: ELBO-weighted cross-entropy over masked rows.
The engine calls only these names, so fused Triton versions can be dispatched behind them.
"""

from .elbo_loss import elbo_cross_entropy_reference
from .masked_softmax import masked_log_softmax_reference
from .sampler import SampleOutput, gumbel_sample_reference

masked_log_softmax = masked_log_softmax_reference
gumbel_sample = gumbel_sample_reference
elbo_cross_entropy = elbo_cross_entropy_reference

__all__ = ["masked_log_softmax", "gumbel_sample", "elbo_cross_entropy", "SampleOutput",
           "masked_log_softmax_reference", "gumbel_sample_reference", "elbo_cross_entropy_reference"]
