"""Dataclasses built from mappings read from YAML or JSON, each value checked against its field's
type, so that a value of the wrong type is refused by name (`train.lr must be a number, got the
string 'abc'`) instead of failing later, deep inside torch.

The rules, the same for every section of every config:

- a bool field takes only true or false: a string such as "no" is refused;
- an int field takes whole numbers only: 1.5, "3" and true are refused;
- a float field takes numbers, and converts a numeric string such as "1e-3": YAML 1.1 reads a
  number written without a dot (1e-3) as a string;
- a str field takes strings, and false becomes "no": YAML reads a bare `no` (`mixed_precision:
  no`) or `off` as false. true is refused (write the value in quotes);
- list[...] and dict[...] fields check their items; null is taken only by an optional field.

Annotations other than these (classes, Any) are let through unchecked.
"""

from __future__ import annotations

import dataclasses
import types
import typing

__all__ = ["build_dataclass", "typed_value"]


_QUOTING_HINT = " (YAML reads a bare yes/no/on/off as true/false: write the value in quotes)"


class _Mismatch(Exception):
    """The value is not of this type (another member of a union may still take it)."""


def build_dataclass(cls, values, section: str):
    """`cls(**values)`, refusing a non-mapping, unknown and missing fields, and values of the
    wrong type, by name (`section.field`)."""
    if not isinstance(values, dict):
        raise ValueError(f"{section} must be a mapping of settings, got {_shown(values)}")
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {section} settings {unknown}; known: {sorted(known)}")
    missing = [name for name in _required_fields(cls) if name not in values]
    if missing:
        raise ValueError(f"{section} is missing required settings {missing}")
    kinds = _field_types(cls)
    typed = {name: typed_value(value, kinds[name], f"{section}.{name}") if name in kinds else value
             for name, value in values.items()}
    return cls(**typed)


def typed_value(value, kind, where: str):
    """`value` checked against the annotation `kind` (converted where the rules above say so);
    a ValueError names `where` otherwise."""
    for option in _members(kind):
        try:
            return _convert(value, option, where)
        except _Mismatch:
            continue
    expected = " or ".join(_describe(option) for option in _members(kind))
    hint = _QUOTING_HINT if isinstance(value, bool) and str in _members(kind) else ""
    raise ValueError(f"{where} must be {expected}, got {_shown(value)}{hint}")


def _convert(value, kind, where: str):
    if kind in _SCALARS:
        return _SCALARS[kind](value)
    origin, args = typing.get_origin(kind) or kind, typing.get_args(kind)
    if origin is list:
        return _as_list(value, args, where)
    if origin is dict:
        return _as_dict(value, args, where)
    return value  # a type these rules do not cover


def _exactly(value, fits: bool):
    if not fits:
        raise _Mismatch
    return value


def _as_float(value) -> float:
    if isinstance(value, bool):
        raise _Mismatch
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _Mismatch from None
    raise _Mismatch


def _as_string(value) -> str:
    if value is False:  # YAML 1.1 reads a bare no / off as false
        return "no"
    return _exactly(value, isinstance(value, str))


def _as_list(value, args, where: str):
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    if not args:
        return value
    return type(value)(typed_value(item, args[0], f"{where}[{i}]") for i, item in enumerate(value))


def _as_dict(value, args, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Mismatch
    if not args:
        return value
    key_kind, value_kind = args
    return {typed_value(k, key_kind, f"{where} key {k!r}"): typed_value(v, value_kind, f"{where}.{k}")
            for k, v in value.items()}


_SCALARS = {
    type(None): lambda value: _exactly(value, value is None),
    bool: lambda value: _exactly(value, isinstance(value, bool)),
    int: lambda value: _exactly(value, isinstance(value, int) and not isinstance(value, bool)),
    float: _as_float,
    str: _as_string,
}


def _members(kind) -> tuple:
    """The members of a union (`int | None` -> int, NoneType); any other annotation alone."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def _describe(kind) -> str:
    origin = typing.get_origin(kind) or kind
    names = {type(None): "null", bool: "true or false", int: "a whole number", float: "a number",
             str: "a string", list: "a list", dict: "a mapping"}
    return names.get(origin, getattr(kind, "__name__", str(kind)))


def _shown(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _required_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING]


def _field_types(cls) -> dict:
    """name -> resolved annotation; {} (nothing checked) when the annotations cannot be resolved."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        return {}
