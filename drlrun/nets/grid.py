"""A small CNN for MiniGrid's 7x7 egocentric views (the torso `net=grid_cnn`).

The rl-starter-files / torch-ac MiniGrid model (Willems et al.): conv 2x2 (16) -> ReLU ->
max-pool 2x2 -> conv 2x2 (32) -> ReLU -> conv 2x2 (64) -> ReLU, here followed by one hidden
layer. It reads both of drlrun's grid encodings: DoorKey's (3, 7, 7) object / colour / state
codes (one-hot per channel from `EnvFactory.categorical_levels`) and MemoryS7's (7, 7, 20)
channel-last one-hot view (frame stacks join the channels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from drlrun.errors import DrlrunError
from drlrun.nets.base import Torso, one_hot_codes
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class GridCNNParams:
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    pool: bool = True  # max-pool 2x2 after the first conv (the 7x7 view -> 3x3)
    hidden: int = 128  # one ReLU layer on the flattened maps (0: none)


class GridCNN(Torso):
    """(batch, *view) -> (batch, out_features) for a MiniGrid view in either encoding."""

    def __init__(
        self,
        shape: tuple[int, ...],
        p: GridCNNParams,
        obs_scale: float,
        levels: tuple[int, ...] = (),
    ):
        super().__init__(obs_scale)
        self.levels = levels
        # (C, H, W) codes, or (..., H, W, C) one-hot with leading frame-stack axes joined to C
        h, w = (shape[-2], shape[-1]) if levels else (shape[-3], shape[-2])
        first = in_channels = input_channels(shape, levels)
        layers: list[nn.Module] = []
        for i, out in enumerate(p.channels):
            layers += [nn.Conv2d(in_channels, out, 2), nn.ReLU()]
            if i == 0 and p.pool:
                layers.append(nn.MaxPool2d(2))
            in_channels = out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, first, h, w)).shape[1]
        self.hidden = nn.Linear(flat, p.hidden) if p.hidden else None
        self.out_features = p.hidden or flat

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, channels, H, W) floats from either encoding."""
        if self.levels:
            return one_hot_codes(obs, self.levels)
        x = self.prepare(obs)
        h, w, c = x.shape[-3], x.shape[-2], x.shape[-1]
        x = x.reshape(len(x), -1, h, w, c).permute(0, 1, 4, 2, 3)  # stack, C, H, W
        return x.reshape(len(x), -1, h, w)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.convs(self.encode(obs))
        return torch.relu(self.hidden(x)) if self.hidden is not None else x


def input_channels(shape: tuple[int, ...], levels: tuple[int, ...]) -> int:
    """Channels after encoding: one-hot widths of the codes, or stack x one-hot channels."""
    if levels:
        return sum(levels)
    stack = 1
    for n in shape[:-3]:
        stack *= n
    return stack * shape[-1]


@register("net", "grid_cnn")
def build_grid_cnn(cfg, env) -> GridCNN:
    shape = tuple(env.observation_space.shape)
    levels = tuple(getattr(env, "categorical_levels", ()) or ())
    grid = (levels and len(shape) == 3) or (env.kind == "grid" and len(shape) >= 3)
    if not grid or min(shape[-3:-1] if not levels else shape[-2:]) < 3:
        raise DrlrunError(
            f"net=grid_cnn needs a MiniGrid view (env=doorkey or env=memory); env={env.name} has "
            f"{env.kind} observations of shape {shape}; use net=mlp, or net=nature_cnn for pixels"
        )
    return GridCNN(shape, from_cfg(GridCNNParams, cfg, "net"), env.obs_scale, levels)
