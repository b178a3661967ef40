"""Name -> builder tables for every kind of part a run is assembled from.

Kinds: `algo` (learners), `net` (torsos), `env` (tasks: env factories, team envs, datasets,
fitness targets), `loss` (Q-learning TD losses), `transform` (batch transforms such as
curiosity), `probe` (figures and video overlays), `backend` (distributed-ES evaluators).
Builders register with `@register("algo", "dqn")`; third-party packages add their own through
the `drlrun.plugins` entry-point group (each entry point is a module imported for its
registrations, or a callable that is called once).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from drlrun.errors import DrlrunError

KINDS = ("algo", "net", "env", "loss", "transform", "probe", "backend")
_TABLES: dict[str, dict[str, Callable[..., Any]]] = {kind: {} for kind in KINDS}
# Packages whose modules (sub-packages included) hold drlrun's own registrations; every module
# in them is imported lazily (so `import drlrun` stays light). A module whose optional
# dependency is missing guards its own imports and registers nothing.
_BUILTIN_PACKAGES = ("drlrun.envs", "drlrun.nets", "drlrun.algos", "drlrun.book", "drlrun.viz")
_loaded = False


def register(kind: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register `fn` as the builder of `name` in table `kind`."""
    if kind not in _TABLES:
        raise ValueError(f"unknown registry kind {kind!r}; kinds: {', '.join(KINDS)}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        table = _TABLES[kind]
        if name in table and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = fn
        return fn

    return decorate


def load_builtins_and_plugins() -> None:
    """Import drlrun's builders and every `drlrun.plugins` entry point (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
    for ep in entry_points(group="drlrun.plugins"):
        try:
            obj = ep.load()
        except Exception as err:  # a broken plugin must not hide which one it is
            raise DrlrunError(f"plugin {ep.name!r} ({ep.value}) failed to load: {err}") from err
        if callable(obj):
            obj()


def names(kind: str) -> list[str]:
    """Registered names of `kind`, sorted."""
    load_builtins_and_plugins()
    return sorted(_TABLES[kind])


def lookup(kind: str, name: str) -> Callable[..., Any]:
    """The builder registered as `name`; unknown names list the valid choices."""
    load_builtins_and_plugins()
    table = _TABLES[kind]
    if name not in table:
        raise DrlrunError(f"unknown {kind} {name!r}; valid choices: {', '.join(sorted(table))}")
    return table[name]


def find(kind: str, name: str) -> Callable[..., Any] | None:
    """The builder registered as `name`, or None (for optional parts)."""
    load_builtins_and_plugins()
    return _TABLES[kind].get(name)


def build(kind: str, cfg: Any, *args: Any, **kwargs: Any) -> Any:
    """Build the object named by `cfg.name` (or `cfg` itself when it is a string)."""
    name = cfg if isinstance(cfg, str) else cfg.get("name")
    if not name:
        raise DrlrunError(f"the {kind} config has no 'name' key")
    return lookup(kind, name)(cfg, *args, **kwargs)
