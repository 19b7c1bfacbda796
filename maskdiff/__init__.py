"""maskdiff: masked (absorbing-state) diffusion, Variational Masked Diffusion and Block-VMD."""

from .data import Batch, BatchSource
from .evaluation import (
    distribution_metrics,
    exact_elbo,
    importance_weighted_bound,
    marginal_bound,
    monte_carlo_bound,
    perplexity_bound,
)
from .hardware import hardware_description, software_versions
from .models import MaskedDiffusionModel, ModelConfig, load_model, save_model
from .objectives import LossOutput, diffusion_loss, kl_weight
from .sampling import SamplerConfig, SampleResult, generate
from .schedules import get_schedule
from .training import TrainConfig, TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "ModelConfig", "MaskedDiffusionModel", "save_model", "load_model",
    "get_schedule", "diffusion_loss", "LossOutput", "kl_weight",
    "SamplerConfig", "SampleResult", "generate",
    "Batch", "BatchSource", "TrainConfig", "TrainResult", "train",
    "hardware_description", "software_versions",
    "exact_elbo", "monte_carlo_bound", "importance_weighted_bound", "marginal_bound",
    "perplexity_bound", "distribution_metrics",
]
