"""Reverse processes: block-by-block decoding within an NFE budget, built from registries.

- `orders`: ranking rules for confidence decoding (`ORDERS`, `register_order`);
- `methods`: commit strategies, confidence and ancestral (`METHODS`, `register_method`);
- `latents`: VMD latent policies (`Z_POLICIES`, `register_z_policy`);
- `remasking`: which committed tokens go back to [MASK] (`REMASKS`, `register_remask`);
- `config`: `SamplerConfig` (validated against the registries) and `SampleResult`;
- `loop`: `generate`, which reads the registries.
"""

from .config import SamplerConfig, SampleResult
from .latents import Z_POLICIES, register_z_policy
from .loop import Constraint, generate
from .methods import METHODS, Method, commit_counts, register_method
from .orders import ORDERS, register_order
from .remasking import REMASKS, register_remask

__all__ = ["SamplerConfig", "SampleResult", "generate", "ORDERS", "Z_POLICIES", "METHODS",
           "REMASKS", "Method", "Constraint", "commit_counts", "register_order", "register_method",
           "register_z_policy", "register_remask"]
