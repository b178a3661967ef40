"""Shared pieces for torsos: the Torso interface, activations, and the torso builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from drlrun.errors import DrlrunError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


FUNCTIONAL: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "elu": nn.functional.elu,
    "selu": torch.selu,
    "gelu": nn.functional.gelu,
    "silu": nn.functional.silu,
}


def functional_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation as a plain function (no module-call overhead on hot paths)."""
    if name not in FUNCTIONAL:
        raise DrlrunError(f"unknown activation {name!r}; choose one of {', '.join(FUNCTIONAL)}")
    return FUNCTIONAL[name]


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise DrlrunError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class Torso(nn.Module):
    """A feature extractor: raw observation batch -> (batch, out_features).

    `obs_scale` divides the (possibly uint8) input so the buffer can keep raw bytes."""

    out_features: int

    def __init__(self, obs_scale: float = 1.0):
        super().__init__()
        self.obs_scale = obs_scale

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        return x / self.obs_scale if self.obs_scale != 1.0 else x


def build_torso(cfg: Any, env: Any) -> Torso:
    """Build the torso named by `cfg.name` for `env` (an EnvFactory)."""
    from drlrun import registry

    return registry.build("net", cfg, env)
