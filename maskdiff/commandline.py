"""Pieces shared by every command-line sub-command: option checks and options read from the
configs' dataclasses (so a default lives in one place: the dataclass)."""

from __future__ import annotations

import argparse
import dataclasses

from .sampling import METHODS, ORDERS, REMASKS, Z_POLICIES, SamplerConfig
from .sampling.config import MIN_PER_CALL

__all__ = ["require_positive", "add_sampler_arguments", "sampler_from_args", "add_threads_argument",
           "apply_threads", "ADAPTIVE"]

# SamplerConfig fields offered on the command line: field -> (flag type, choices, help).
_SAMPLER_OPTIONS = {
    "nfe": (int, None, "denoiser calls"),
    "method": (str, METHODS, "decoding method"),
    "order": (str, ORDERS, "ranking rule of the confidence method"),
    "temperature": (float, None, "0 commits the argmax, > 0 samples at that temperature"),
    "score_noise": (float, None, "scale of Gumbel noise on the ranking scores"),
    "z_policy": (str, Z_POLICIES, "how VMD latents are drawn"),
    "threshold": (float, None, "adaptive decoding: also commit every token at least this likely"),
    "min_per_call": (str, MIN_PER_CALL, "with --threshold, the least a call commits: the fixed "
                     "schedule's count ('schedule', exact budget) or one token ('one', nfe a cap)"),
    "remask": (str, REMASKS, "send committed tokens back to [MASK] before each call but the last"),
    "remask_share": (float, None, "share of the block's committed tokens re-masked per call"),
}
ADAPTIVE = ("threshold", "min_per_call", "remask", "remask_share")


def require_positive(**options) -> None:
    """Refuse option values below 1 (lists are checked element by element; None is a default)."""
    for name, value in options.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None and v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")


def add_sampler_arguments(parser: argparse.ArgumentParser, *names: str,
                          base: SamplerConfig | None = None, base_name: str = "") -> None:
    """Flags for the named SamplerConfig fields. Their defaults are None: the value then comes
    from `base` (e.g. the sampler a model was trained with) or SamplerConfig's own default, which
    the help text shows."""
    defaults = base or SamplerConfig()
    for name in names:
        kind, choices, text = _SAMPLER_OPTIONS[name]
        shown = getattr(defaults, name)
        where = base_name or "SamplerConfig default"
        parser.add_argument("--" + name.replace("_", "-"), type=kind, choices=choices,
                            default=None, help=f"{text} (default: {shown!r}, {where})")


def sampler_from_args(args: argparse.Namespace, base: SamplerConfig | None = None,
                      **fixed) -> SamplerConfig:
    """`base` (or SamplerConfig()) with every sampler flag the user gave, then `fixed`."""
    given = {name: getattr(args, name) for name in _SAMPLER_OPTIONS
             if getattr(args, name, None) is not None}
    try:
        return dataclasses.replace(base or SamplerConfig(), **{**given, **fixed})
    except ValueError as err:
        raise ValueError(_named_as_flag(str(err), given)) from None


def _named_as_flag(message: str, given: dict) -> str:
    """A SamplerConfig error that starts with a field the user set by its flag, in the flag's
    name: "remask_share must lie in (0, 1]" -> "--remask-share must lie in (0, 1]"."""
    name = message.split(" ", 1)[0]
    if name not in given:
        return message
    return "--" + name.replace("_", "-") + message[len(name):]


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")


def apply_threads(args: argparse.Namespace) -> None:
    import torch

    require_positive(threads=args.threads)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
