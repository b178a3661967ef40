"""The book's CNN baseline for transformed MNIST (Listing 10.6): 88,252 parameters with its head.

conv 1->10, conv 10->16, max-pool 2x2, conv 16->24, conv 24->32, conv 32->64 (all 4x4, ReLU)
-> flatten 64 * 2 * 2 = 256 -> Linear(256, 128) -> ReLU; the classifier adds Linear(128, 10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from drlrun.nets.base import Torso, conv_relu
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class MnistCNNParams:
    channels: list[int] = field(default_factory=lambda: [10, 16, 24, 32, 64])
    kernel: int = 4
    pool_after: int = 2  # max-pool 2x2 after this many convs (the book's code: after conv2)
    hidden: int = 128
    conv_norm: Literal["none", "layer"] = "none"  # layer: GroupNorm(1, C) after each conv


class MnistCNN(Torso):
    def __init__(self, obs_shape: tuple[int, ...], p: MnistCNNParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        layers: list[nn.Module] = []
        channels = obs_shape[0]
        for i, out in enumerate(p.channels):
            layers += conv_relu(channels, out, p.kernel, norm=p.conv_norm)
            if i + 1 == p.pool_after:
                layers.append(nn.MaxPool2d(2))
            channels = out
        layers.append(nn.Flatten())
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *obs_shape)).shape[1]
        self.fc = nn.Sequential(nn.Linear(flat, p.hidden), nn.ReLU())
        self.out_features = p.hidden

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(self.prepare(obs)))


@register("net", "mnist_cnn")
def build_mnist_cnn(cfg, env) -> MnistCNN:
    from drlrun.nets.cnn import require_image

    shape = require_image(env, "mnist_cnn")
    return MnistCNN(shape, from_cfg(MnistCNNParams, cfg, "net"), env.obs_scale)
