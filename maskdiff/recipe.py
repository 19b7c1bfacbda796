"""Recipes: one shape for everything needed to train a model and to evaluate and sample it.

A recipe names its task (the package under `maskdiff.tasks` that runs it) and holds the engine's
three configs plus two task-specific sections:

    task: text                       # which task runs the recipe
    out_dir: runs/shakespeare-bd4    # optional default run folder
    model:   {seq_len: 64, block_size: 4, ...}        # ModelConfig
    train:   {steps: 1500, batch_size: 32, ...}       # TrainConfig
    sampler: {method: ancestral, temperature: 1.0}    # SamplerConfig (optional)
    data:    {corpus: shakespeare, tokenizer: char}   # read by the task
    eval:    {passes: 4, ...}                         # read by the task

The same mapping is read from and written to YAML or JSON (`load_recipe`, `save_recipe`), and a
trained model stores it (`save_model(..., extra={"recipe": recipe.to_dict()})`), so the model can
be evaluated and sampled exactly as it was trained. Defaults are the dataclasses' own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .fieldtypes import build_dataclass, typed_value
from .models import ModelConfig
from .sampling import SamplerConfig
from .training import TrainConfig

__all__ = ["Recipe", "shorten", "load_recipe", "save_recipe", "read_recipe_file", "parse_overrides",
           "apply_overrides", "config_section", "saved_sampler"]

SECTIONS = ("task", "out_dir", "model", "train", "sampler", "data", "eval")
TOP_LEVEL_VALUES = ("task", "out_dir")  # the keys that are values, not sections


@dataclass
class Recipe:
    """task: the task package that runs it; model/train/sampler: the engine's configs;
    data/eval: task-specific settings (validated by the task); out_dir: default run folder."""

    task: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    sampler: SamplerConfig | None = None
    data: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    out_dir: str | None = None

    def to_dict(self) -> dict:
        """The file form: plain values only, sections in a fixed order."""
        out = {"task": self.task}
        if self.out_dir is not None:
            out["out_dir"] = self.out_dir
        out["model"] = self.model.to_dict()
        out["train"] = dataclasses.asdict(self.train)
        if self.sampler is not None:
            out["sampler"] = dataclasses.asdict(self.sampler)
        out["data"] = dict(self.data)
        out["eval"] = dict(self.eval)
        return out

    @classmethod
    def from_dict(cls, raw: dict, model_defaults: dict | Callable[[dict], dict] | None = None,
                  source: str = "recipe") -> Recipe:
        """Build from the file form; unknown keys and values of the wrong type are refused by
        name (see `config_section`), and every error names `source` (the file). `model_defaults`
        fills model fields the mapping leaves out (e.g. a vocabulary size that a tokenizer
        decides); a callable gets the data section and is called only once every other section
        is valid."""
        try:
            return cls(**_recipe_fields(raw, model_defaults))
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    def shortened(self, steps: int) -> Recipe:
        """The same recipe over `steps` training steps: the learning-rate and KL warm-ups keep
        their share of the run. The one rule for short runs (smoke tests, --steps)."""
        return replace(self, train=shorten(self.train, steps))


def shorten(train: TrainConfig, steps: int) -> TrainConfig:
    """`train` over `steps` steps, its learning-rate and KL warm-ups keeping their share."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be >= 1 (an integer), got {steps!r}")
    share = lambda n: n * steps // train.steps  # noqa: E731
    return replace(train, steps=steps, warmup_steps=share(train.warmup_steps),
                   kl_warmup_steps=share(train.kl_warmup_steps))


def _recipe_fields(raw: dict, model_defaults) -> dict:
    """Recipe's fields from the file form (see `Recipe.from_dict`)."""
    if not isinstance(raw, dict):
        raise ValueError("a recipe must hold a mapping at the top level")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {list(SECTIONS)}")
    task = raw.get("task")
    if not isinstance(task, str) or not task:
        raise ValueError("a recipe must name its task (e.g. `task: text`)")
    train = config_section(TrainConfig, raw.get("train"), "train")
    sampler = raw.get("sampler")
    sampler = None if sampler is None else config_section(SamplerConfig, sampler, "sampler")
    data, evals = _mapping(raw.get("data"), "data"), _mapping(raw.get("eval"), "eval")
    given = _mapping(raw.get("model"), "model")
    if callable(model_defaults):
        model_defaults = model_defaults(data)
    model = config_section(ModelConfig, {**(model_defaults or {}), **given}, "model")
    return dict(task=task, model=model, train=train, sampler=sampler, data=data, eval=evals,
                out_dir=typed_value(raw.get("out_dir"), str | None, "out_dir"))


def _mapping(values, name: str) -> dict:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"config section {name!r} must be a mapping, got {type(values).__name__}")
    return dict(values)


def config_section(cls, values, name: str, source: str | None = None):
    """Build dataclass `cls` from the recipe section `name` (a mapping; None: all defaults),
    refusing unknown keys and values of the wrong type by name; numeric strings such as "1e-3"
    (how YAML 1.1 reads a number without a dot) are converted for float fields, and bool fields
    take only true/false (the rules: `maskdiff.fieldtypes`). Errors name `source` (the file),
    when given."""
    try:
        return build_dataclass(cls, _mapping(values, name), name)
    except ValueError as err:
        if source is None:
            raise
        raise ValueError(f"{source}: {err}") from None


def read_recipe_file(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """The mapping in a YAML or JSON recipe file, with `overrides` ({"train.steps": 10}) applied."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            raw = json.loads(text)
    except Exception as err:  # yaml and json raise their own error types
        raise ValueError(f"cannot parse config file {path}: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a mapping at the top level")
    return apply_overrides(raw, overrides or {})


def apply_overrides(raw: dict, overrides: dict) -> dict:
    """Set dotted keys ("train.steps", "data.corpus", "task") in a recipe mapping (a copy). The
    keys come from the command line (--set), and an unknown section is refused as such."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        _check_override_key(key, section or name, nested=bool(section))
        if section:
            target = out.setdefault(section, {})
            if not isinstance(target, dict):
                raise ValueError(f"cannot set {key}: {section!r} is not a section")
            target[name] = value
        else:
            out[name] = value
    return out


def _check_override_key(key: str, section: str, nested: bool) -> None:
    """Refuse `--set KEY=...` whose first part is no recipe section (`trian.steps`, `foo`)."""
    known = [s for s in SECTIONS if s not in TOP_LEVEL_VALUES] if nested else list(SECTIONS)
    if section not in known:
        sections = ", ".join(s for s in SECTIONS if s not in TOP_LEVEL_VALUES)
        raise ValueError(f"--set {key}: unknown recipe section {section!r} (the key comes from "
                         f"--set, not from the config file); valid sections: {sections} "
                         f"(as SECTION.KEY=VALUE), and the top-level keys "
                         f"{', '.join(TOP_LEVEL_VALUES)}")


def load_recipe(path: str | os.PathLike, overrides: dict | None = None,
                model_defaults: dict | None = None) -> Recipe:
    """Read a recipe file (YAML or JSON) with optional dotted-key overrides."""
    raw = read_recipe_file(path, overrides)
    return Recipe.from_dict(raw, model_defaults, source=str(path))


def save_recipe(recipe: Recipe, path: str | os.PathLike) -> Path:
    """Write a recipe as YAML (.yaml/.yml) or JSON (anything else)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = recipe.to_dict()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        path.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def saved_sampler(model_dir: str | os.PathLike) -> SamplerConfig | None:
    """The sampler of the recipe a saved model was trained by (None when it carries none)."""
    from .models import read_config

    sampler = (read_config(model_dir)[1].get("recipe") or {}).get("sampler")
    return None if sampler is None else config_section(SamplerConfig, sampler, "sampler")


def parse_overrides(items: list[str]) -> dict:
    """["train.steps=100", "model.block_size=4"] -> {"train.steps": 100, ...} (values as YAML)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out
