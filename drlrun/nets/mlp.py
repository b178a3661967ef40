"""Multi-layer perceptron torso over flattened observations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from drlrun.nets.base import Torso, activation
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class MLPParams:
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "relu"
    layer_norm: bool = False


class MLP(Torso):
    def __init__(self, in_features: int, p: MLPParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in p.hidden:
            layers.append(nn.Linear(width, h))
            if p.layer_norm:
                layers.append(nn.LayerNorm(h))
            layers.append(activation(p.activation))
            width = h
        self.body = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(obs))


@register("net", "mlp")
def build_mlp(cfg, env) -> MLP:
    p = from_cfg(MLPParams, cfg, "net")
    return MLP(int(np.prod(env.observation_space.shape)), p, env.obs_scale)
