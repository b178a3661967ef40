"""The Nature-DQN convolutional torso (Mnih et al. 2015): 3 convs + a 512-unit layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from drlrun.errors import DrlrunError
from drlrun.nets.base import Torso
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class NatureCNNParams:
    features: int = 512


class NatureCNN(Torso):
    def __init__(self, obs_shape: tuple[int, ...], p: NatureCNNParams, obs_scale: float):
        super().__init__(obs_scale)
        channels = obs_shape[0]
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *obs_shape)).shape[1]
        self.fc = nn.Sequential(nn.Linear(flat, p.features), nn.ReLU())
        self.out_features = p.features

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(self.prepare(obs)))


def require_image(env, net_name: str) -> tuple[int, int, int]:
    """The (C, H, W) shape of an image env, or one clear error naming the mismatch."""
    shape = tuple(env.observation_space.shape)
    if env.kind != "image" or len(shape) != 3:
        raise DrlrunError(
            f"net={net_name} needs image observations (C, H, W), but env={env.name} gives "
            f"{env.kind} observations of shape {shape}; use net=mlp or a pixel env (env=freeway)"
        )
    return shape  # type: ignore[return-value]


@register("net", "nature_cnn")
def build_nature_cnn(cfg, env) -> NatureCNN:
    shape = require_image(env, "nature_cnn")
    if min(shape[1:]) < 36:
        raise DrlrunError(f"net=nature_cnn needs frames of at least 36x36, got {shape[1:]}")
    return NatureCNN(shape, from_cfg(NatureCNNParams, cfg, "net"), env.obs_scale)
