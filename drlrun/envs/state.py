"""Capture and restore the full state of a gymnasium env (its wrapper chain) for exact resume.

Each layer contributes its plain-valued attributes (numbers, flags, numpy arrays, deques of
arrays); the innermost env adds its `np_random` state and, for ALE, the emulator state with its
RNG. A layer can instead define `get_state()` / `set_state(state)` to control what is kept.
"""

from __future__ import annotations

import collections
from typing import Any

import gymnasium as gym
import numpy as np

_SKIP = {"env", "_env", "spec", "metadata", "render_mode", "_np_random_seed", "ale"}
_PLAIN = (bool, int, float, str, type(None), np.ndarray, np.generic)


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple | collections.deque):
        return len(value) < 10_000 and all(_plain(v) for v in value)
    return False


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, collections.deque):
        return {"__deque__": [_copy(v) for v in value], "maxlen": value.maxlen}
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    return value


def _uncopy(value: Any) -> Any:
    if isinstance(value, dict) and "__deque__" in value:
        return collections.deque([_uncopy(v) for v in value["__deque__"]], maxlen=value["maxlen"])
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | tuple):
        return type(value)(_uncopy(v) for v in value)
    return value


def _layers(env: gym.Env) -> list[gym.Env]:
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    return layers


def capture(env: gym.Env) -> list[dict[str, Any]]:
    """One dict per wrapper layer, outermost first."""
    states = []
    for layer in _layers(env):
        if hasattr(layer, "get_state"):
            states.append({"custom": layer.get_state()})
            continue
        attrs = {k: _copy(v) for k, v in vars(layer).items() if k not in _SKIP and _plain(v)}
        state: dict[str, Any] = {"attrs": attrs}
        if not isinstance(layer, gym.Wrapper):
            if getattr(layer, "_np_random", None) is not None:
                state["np_random"] = layer._np_random.bit_generator.state
            ale = getattr(layer, "ale", None)
            if ale is not None:
                state["ale"] = np.frombuffer(
                    ale.cloneState(include_rng=True).serialize(), dtype=np.uint8
                ).copy()
        states.append(state)
    return states


def restore(env: gym.Env, states: list[dict[str, Any]]) -> None:
    """Inverse of `capture` on an env built by the same factory."""
    layers = _layers(env)
    if len(layers) != len(states):
        raise ValueError("env wrapper chain differs from the checkpoint's")
    for layer, state in zip(layers, states, strict=True):
        if "custom" in state:
            layer.set_state(state["custom"])
            continue
        for k, v in state["attrs"].items():
            setattr(layer, k, _uncopy(v))
        if "np_random" in state:
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = state["np_random"]
            layer._np_random = rng
        if "ale" in state:
            import ale_py

            layer.ale.restoreState(ale_py.ALEState(bytes(np.asarray(state["ale"]))))
