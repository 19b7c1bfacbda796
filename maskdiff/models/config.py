"""Model configuration: one validated dataclass for MDM, VMD, block diffusion and Block-VMD."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..fieldtypes import build_dataclass
from ..schedules import get_schedule

__all__ = ["ModelConfig"]

PRIORS = ("standard", "learned", "mixture")
LATENT_INJECTIONS = ("adaln", "embedding")


@dataclass
class ModelConfig:
    """Architecture of a masked-diffusion denoiser (and, when latent_dim > 0, of its VMD latent).

    The vocabulary holds `vocab_size` data tokens with ids 0..vocab_size-1; the [MASK] id is
    `vocab_size`, so the denoiser emits vocab_size + 1 logits per position (the mask column is
    forced to -inf by the SUBS parameterisation).
    """

    vocab_size: int
    seq_len: int
    d_model: int = 128
    n_layers: int = 4
    # Depth at equal parameters: the stack of n_layers blocks is applied n_loops times with the
    # same weights (a looped transformer): n_loops x the compute per call, the same parameters.
    n_loops: int = 1
    n_heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    # None means one block covering the whole sequence (plain masked diffusion); 1 is autoregressive.
    block_size: int | None = None
    time_conditioning: bool = False
    # Noise schedule alpha(t) the model is trained with and sampled on (a name from SCHEDULES).
    schedule: str = "linear"
    # VMD: 0 disables the latent (plain MDM / block diffusion).
    latent_dim: int = 0
    encoder_layers: int = 1
    # The prior p(z): "standard" N(0, I); "learned" p(z | xt), a network reading the denoiser's
    # input; "mixture" a learned mixture of prior_components Gaussians.
    prior: str = "standard"
    prior_layers: int = 1
    prior_components: int = 16
    latent_injection: str = "adaln"
    # Structured positions (e.g. a Sudoku board's rows, columns and boxes): each grouping assigns a
    # group id to every position and gets its own embedding table, added to the position embedding.
    position_groups: list[list[int]] | None = None
    # With position_groups: a position attends only to positions sharing a group with it
    # (a Sudoku cell to its 20 peers and itself).
    group_attention: bool = False

    def __post_init__(self):
        if self.block_size is None:
            self.block_size = self.seq_len
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        positive = ("vocab_size", "seq_len", "d_model", "n_layers", "n_loops", "n_heads",
                    "block_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"ModelConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}"
            )
        if self.block_size > self.seq_len or self.seq_len % self.block_size != 0:
            raise ValueError(
                f"ModelConfig.block_size={self.block_size} must divide seq_len={self.seq_len}"
            )
        if not isinstance(self.schedule, str):
            raise ValueError(f"ModelConfig.schedule must be a schedule name, got {self.schedule!r}")
        try:
            get_schedule(self.schedule)
        except ValueError as err:
            raise ValueError(f"ModelConfig.schedule: {err}") from None
        if not self.mlp_ratio > 0:
            raise ValueError(f"ModelConfig.mlp_ratio must be > 0, got {self.mlp_ratio}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must lie in [0, 1), got {self.dropout}")
        if not isinstance(self.latent_dim, int) or self.latent_dim < 0:
            raise ValueError(f"ModelConfig.latent_dim must be an integer >= 0, got {self.latent_dim!r}")
        if self.latent_dim > 0:
            for name in ("encoder_layers", "prior_layers"):
                if getattr(self, name) < 1:
                    raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.prior not in PRIORS:
            raise ValueError(f"ModelConfig.prior must be one of {PRIORS}, got {self.prior!r}")
        if self.prior == "mixture" and (not isinstance(self.prior_components, int)
                                        or self.prior_components < 1):
            raise ValueError(f"ModelConfig.prior_components must be an integer >= 1, "
                             f"got {self.prior_components!r}")
        if self.position_groups is not None:
            groups = self.position_groups
            if not isinstance(groups, list) or not groups or any(
                    not isinstance(g, list) or len(g) != self.seq_len
                    or any(not isinstance(i, int) or i < 0 for i in g) for g in groups):
                raise ValueError(f"ModelConfig.position_groups must be a non-empty list of lists of "
                                 f"{self.seq_len} non-negative integers (one group id per position)")
        if self.group_attention and self.position_groups is None:
            raise ValueError("ModelConfig.group_attention needs position_groups")
        if self.group_attention and self.block_size != self.seq_len:
            raise ValueError("ModelConfig.group_attention is supported with one block only "
                             "(block_size = seq_len)")
        if self.latent_injection not in LATENT_INJECTIONS:
            raise ValueError(
                f"ModelConfig.latent_injection must be one of {LATENT_INJECTIONS}, "
                f"got {self.latent_injection!r}"
            )

    @property
    def mask_id(self) -> int:
        return self.vocab_size

    @property
    def num_blocks(self) -> int:
        return self.seq_len // self.block_size

    @property
    def is_vmd(self) -> bool:
        """Whether the model has a latent z (VMD, or Block-VMD with several blocks)."""
        return self.latent_dim > 0

    @property
    def reads_xt_only(self) -> bool:
        """Whether the denoiser reads xt alone (no time input, no latent): a deterministic
        p(x0^i | xt), whose ELBO can be enumerated exactly."""
        return not (self.time_conditioning or self.is_vmd)

    @property
    def method_name(self) -> str:
        """"ar" (block size 1), "mdm" / "vmd" (one block), "bd-b<b>" / "block-vmd-b<b>"."""
        if self.block_size == 1:
            return "ar"
        kind = "vmd" if self.is_vmd else "mdm"
        if self.block_size == self.seq_len:
            return kind
        return ("block-vmd" if self.is_vmd else "bd") + f"-b{self.block_size}"

    @property
    def has_conditioning(self) -> bool:
        """Whether blocks are modulated per token (time and/or latent through adaptive norms)."""
        return self.time_conditioning or (self.is_vmd and self.latent_injection == "adaln")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from a mapping (a saved config.json's "model"): a non-mapping, unknown or
        missing fields and values of the wrong type are refused by name (`model.vocab_size`)."""
        return build_dataclass(cls, data, "model")
