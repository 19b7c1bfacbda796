"""Models: the denoiser transformer, the VMD latent (encoder, priors) and save/load."""

from .config import ModelConfig
from .diffusion_model import Layout, MaskedDiffusionModel
from .io import load_model, read_config, save_model
from .latent import DiagonalGaussian, GaussianMixture

__all__ = ["ModelConfig", "MaskedDiffusionModel", "Layout", "DiagonalGaussian", "GaussianMixture",
           "save_model",
           "load_model", "read_config"]
