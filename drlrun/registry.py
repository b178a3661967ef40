"""Name -> builder tables for every kind of part a run is assembled from.

Kinds: `algo` (learners), `net` (torsos), `env` (tasks: env factories, team envs, datasets,
fitness targets), `loss` (Q-learning TD losses), `transform` (batch transforms such as
curiosity), `probe` (figures and video overlays), `backend` (distributed-ES evaluators).
Builders register with `@register("algo", "dqn")`; third-party packages add their own through
the `drlrun.plugins` entry-point group (each entry point is a module imported for its
registrations, or a callable that is called once).

drlrun's own builders are listed in `registry_manifest.json` (name -> module and the builder's
declarations: `accepts`, `provides`, `whole_network`, `stateful`), written by
`python -m drlrun.registry` from the decorators themselves and checked against them in the
tests. So a run imports only the modules of the parts it builds, and a config error (an
incompatible algo/env/net choice) is answered from the manifest, before torch is imported.
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from drlrun.errors import DrlrunError

KINDS = ("algo", "net", "env", "loss", "transform", "probe", "backend")
# Attributes the decorators set on a builder (algos.accepts.accepts, envs.base.provides,
# nets.base.whole_network, nets.sequence.stateful); the manifest keeps them per name.
MARKS = ("accepts", "provides", "whole_network", "stateful")
_TABLES: dict[str, dict[str, Callable[..., Any]]] = {kind: {} for kind in KINDS}
# Packages whose modules (sub-packages included) hold drlrun's own registrations. A module
# whose optional dependency is missing guards its own imports and registers nothing.
_BUILTIN_PACKAGES = ("drlrun.envs", "drlrun.nets", "drlrun.algos", "drlrun.book", "drlrun.viz")
MANIFEST = Path(__file__).with_name("registry_manifest.json")
_loaded = False  # every built-in module imported
_plugins_loaded = False


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


@functools.cache
def manifest() -> dict[str, dict[str, dict[str, Any]]]:
    """The committed manifest: kind -> name -> {"module", "marks"} (empty if missing)."""
    if not MANIFEST.exists():
        return {kind: {} for kind in KINDS}
    data = json.loads(MANIFEST.read_text())
    return {kind: data.get(kind, {}) for kind in KINDS}


def load_plugins() -> None:
    """Import every `drlrun.plugins` entry point (once)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="drlrun.plugins"):
        try:
            obj = ep.load()
        except Exception as err:  # a broken plugin must not hide which one it is
            raise DrlrunError(f"plugin {ep.name!r} ({ep.value}) failed to load: {err}") from err
        if callable(obj):
            obj()


def load_builtins_and_plugins() -> None:
    """Import every one of drlrun's builder modules and every plugin (once): what the manifest
    is written from, and the fallback for a name the manifest does not know."""
    global _loaded
    if not _loaded:
        _loaded = True
        for package_name in _BUILTIN_PACKAGES:
            package = importlib.import_module(package_name)
            for info in pkgutil.walk_packages(package.__path__, package_name + "."):
                importlib.import_module(info.name)
    load_plugins()


def _load(kind: str, name: str) -> None:
    """Import what registers `name`: its module from the manifest, else plugins, else all."""
    if name in _TABLES[kind]:
        return
    entry = manifest()[kind].get(name)
    if entry is not None:
        importlib.import_module(entry["module"])
    if name not in _TABLES[kind]:
        load_plugins()
    if name not in _TABLES[kind]:
        load_builtins_and_plugins()  # a builder newer than the manifest still resolves


def names(kind: str) -> list[str]:
    """Registered names of `kind` (built-in ones from the manifest, plus plugins'), sorted."""
    load_plugins()
    return sorted(set(manifest()[kind]) | set(_TABLES[kind]))


def lookup(kind: str, name: str) -> Callable[..., Any]:
    """The builder registered as `name`; unknown names list the valid choices."""
    _load(kind, name)
    table = _TABLES[kind]
    if name not in table:
        raise DrlrunError(f"unknown {kind} {name!r}; valid choices: {', '.join(names(kind))}")
    return table[name]


def find(kind: str, name: str) -> Callable[..., Any] | None:
    """The builder registered as `name`, or None (for optional parts)."""
    _load(kind, name)
    return _TABLES[kind].get(name)


def mark(kind: str, name: str | None, key: str, default: Any = None) -> Any:
    """A builder's declaration `key` (one of MARKS) without importing it when the manifest
    has it; None or an unknown name gives `default`."""
    if name is None:
        return default
    entry = manifest()[kind].get(name)
    if entry is not None and name not in _TABLES[kind]:
        return entry["marks"].get(key, default)
    return getattr(find(kind, name), key, default)


def build(kind: str, cfg: Any, *args: Any, **kwargs: Any) -> Any:
    """Build the object named by `cfg.name` (or `cfg` itself when it is a string)."""
    name = cfg if isinstance(cfg, str) else cfg.get("name")
    if not name:
        raise DrlrunError(f"the {kind} config has no 'name' key")
    return lookup(kind, name)(cfg, *args, **kwargs)


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) else value


def current_manifest() -> dict[str, dict[str, dict[str, Any]]]:
    """The manifest of drlrun's own builders as the code declares them now (plugins left out)."""
    load_builtins_and_plugins()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in KINDS:
        out[kind] = {}
        for name, builder in sorted(_TABLES[kind].items()):
            module = builder.__module__
            if not module.startswith(_BUILTIN_PACKAGES):
                continue
            marks = {k: _plain(getattr(builder, k)) for k in MARKS if hasattr(builder, k)}
            out[kind][name] = {"module": module, "marks": json.loads(json.dumps(marks))}
    return out


def manifest_text() -> str:
    return json.dumps(current_manifest(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    """`python -m drlrun.registry [--check]`: write (or check) the manifest."""
    text = manifest_text()
    if "--check" in sys.argv[1:]:
        if not MANIFEST.exists() or MANIFEST.read_text() != text:
            sys.exit(f"{MANIFEST} is out of date: run python -m drlrun.registry")
    else:
        MANIFEST.write_text(text)
        print(f"wrote {MANIFEST}")


if __name__ == "__main__":  # the builders register into drlrun.registry, not into __main__
    importlib.import_module("drlrun.registry").main()
