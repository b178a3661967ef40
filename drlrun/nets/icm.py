"""The book's chapter 8 convolutional trunk (ICM's phi and its Q-network), and an MLP stand-in.

Phi: L2-normalise each pixel across the stacked frames (`F.normalize(x)`, dim 1; book bug 12:
nearly identical consecutive frames make every non-black pixel ~(1,1,1)/sqrt(3), so the input
is close to a binary mask; `l2_normalize: false` feeds the frames scaled to [0, 1]), then 4 x [Conv2d(k=3, stride=2, pad=1) + ELU] with 32 channels: 42x42 -> 3x3x32 =
288 features, 28,640 parameters for 3 input frames. `net=icm_cnn` is the book's Q-network
torso: phi -> Linear(288, 100) -> ELU (58,752 parameters with its 12-action head).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drlrun.nets.base import Torso
from drlrun.nets.cnn import require_image
from drlrun.params import from_cfg
from drlrun.registry import register


class Phi(Torso):
    """The book's encoder: per-pixel L2 normalisation, then 4 stride-2 3x3 convs with ELU."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        obs_scale: float = 1.0,
        channels: int = 32,
        layers: int = 4,
        l2_normalize: bool = True,
    ):
        super().__init__(obs_scale)
        self.l2_normalize = l2_normalize
        convs: list[nn.Module] = []
        c_in = obs_shape[0]
        for _ in range(layers):
            convs += [nn.Conv2d(c_in, channels, 3, stride=2, padding=1), nn.ELU()]
            c_in = channels
        self.convs = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            self.out_features = int(self.convs(torch.zeros(1, *obs_shape)).shape[1])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.prepare(obs)
        if self.l2_normalize:
            x = F.normalize(x, dim=1)
        return self.convs(x)


class MLPEncoder(Torso):
    """For vector observations (RAM, CartPole): 2 ELU layers to `features` units."""

    def __init__(self, in_features: int, obs_scale: float = 1.0, features: int = 288):
        super().__init__(obs_scale)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, 256),
            nn.ELU(),
            nn.Linear(256, features),
            nn.ELU(),
        )
        self.out_features = features

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(self.prepare(obs))


def make_encoder(env, l2_normalize: bool = True) -> Torso:
    """Phi for image envs, an MLP encoder otherwise."""
    shape = tuple(env.observation_space.shape)
    if env.kind == "image" and len(shape) == 3:
        return Phi(shape, env.obs_scale, l2_normalize=l2_normalize)
    size = 1
    for d in shape:
        size *= int(d)
    return MLPEncoder(size, env.obs_scale)


@dataclass
class ICMCNNParams:
    hidden: int = 100
    l2_normalize: bool = True  # book bug 12: F.normalize across the stacked frames


class ICMQTorso(Torso):
    """The book's Qnetwork body: its own phi trunk -> Linear(288, hidden) -> ELU."""

    def __init__(
        self, obs_shape: tuple[int, ...], obs_scale: float, hidden: int, l2_normalize: bool = True
    ):
        super().__init__(obs_scale)
        self.phi = Phi(obs_shape, obs_scale, l2_normalize=l2_normalize)
        self.fc = nn.Linear(self.phi.out_features, hidden)
        self.out_features = hidden

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return F.elu(self.fc(self.phi(obs)))


@register("net", "icm_cnn")
def build_icm_cnn(cfg, env) -> ICMQTorso:
    shape = require_image(env, "icm_cnn")
    p = from_cfg(ICMCNNParams, cfg, "net")
    return ICMQTorso(shape, env.obs_scale, p.hidden, p.l2_normalize)
