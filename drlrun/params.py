"""Typed parameter blocks: turn an OmegaConf node into a dataclass, checking names and types.

Every registered component declares its hyperparameters as a dataclass; `from_cfg` gives the
user one clear error for a misspelled key or a value of the wrong type. One rule holds for every
block, plugins' included: a learning rate (a field named `lr` or ending in `_lr`) must be > 0.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

from drlrun.errors import DrlrunError

T = TypeVar("T")


def to_container(node: Any) -> Any:
    """Plain python containers from an OmegaConf node (resolving interpolations)."""
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, arg, where)
            except DrlrunError as err:
                errors.append(str(err))
        raise DrlrunError(f"{where}: expected {tp}, got {value!r}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            choices = ", ".join(repr(a) for a in typing.get_args(tp))
            raise DrlrunError(f"{where}: must be one of {choices}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise DrlrunError(f"{where}: expected a list, got {value!r}")
        (arg, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(v, arg, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise DrlrunError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_cfg(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DrlrunError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise DrlrunError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise DrlrunError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise DrlrunError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise DrlrunError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_cfg(cls: type[T], node: Any, where: str, ignore: tuple[str, ...] = ("name",)) -> T:
    """Build dataclass `cls` from a config mapping; unknown keys and wrong types raise DrlrunError."""
    data = to_container(node) or {}
    if not isinstance(data, Mapping):
        raise DrlrunError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields) - set(ignore))
    if unknown:
        raise DrlrunError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items() if k in fields}
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise DrlrunError(f"{where}: {err}") from None
    check_learning_rates(obj, where)
    return obj


def is_learning_rate(name: str) -> bool:
    return name == "lr" or name.endswith("_lr")


def check_learning_rates(params: Any, where: str) -> None:
    """Every learning rate of a params dataclass must be a number > 0 (torch refuses negatives
    with a traceback; zero learns nothing)."""
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if is_learning_rate(f.name) and isinstance(value, int | float) and not value > 0:
            raise DrlrunError(f"{where}.{f.name} must be > 0, got {value}")


def check_config_learning_rates(node: Any, where: str) -> None:
    """The same rule on a raw config block (and the blocks nested in it), before the builder
    that parses it is imported: how `drlrun` refuses `algo.lr=-1` without importing torch."""
    data = to_container(node)
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        if isinstance(value, Mapping):
            check_config_learning_rates(value, f"{where}.{key}")
        elif (
            is_learning_rate(str(key))
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and not value > 0
        ):
            raise DrlrunError(f"{where}.{key} must be > 0, got {float(value)}")
