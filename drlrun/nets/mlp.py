"""Multi-layer perceptron torso over flattened observations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.nets.base import Torso, functional_activation
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class MLPParams:
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "relu"
    layer_norm: bool = False


class MLP(Torso):
    """Linear -> [LayerNorm] -> activation, repeated. The forward pass calls the functional ops
    directly: with small nets on CPU, per-module call overhead dominates acting and updates."""

    def __init__(self, in_features: int, p: MLPParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList() if p.layer_norm else None
        width = in_features
        for h in p.hidden:
            self.linears.append(nn.Linear(width, h))
            if self.norms is not None:
                self.norms.append(nn.LayerNorm(h))
            width = h
        self.act = functional_activation(p.activation)
        self.out_features = width

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.prepare(obs).flatten(1)
        for i, linear in enumerate(self.linears):
            x = F.linear(x, linear.weight, linear.bias)
            if self.norms is not None:
                norm = self.norms[i]
                x = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
            x = self.act(x)
        return x


@register("net", "mlp")
def build_mlp(cfg, env) -> MLP:
    p = from_cfg(MLPParams, cfg, "net")
    return MLP(int(np.prod(env.observation_space.shape)), p, env.obs_scale)
