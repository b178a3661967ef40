"""Relational (multi-head self-attention) torso, book ch. 10 (Zambaldi et al. 2018).

convs -> one node per feature-map cell with its (row, col) coordinates appended -> multi-head
attention (`dot`: scaled dot-product; `additive`: pairwise Bahdanau scores; `book_additive`:
the book's per-node scores, kept only for fidelity) -> head merge -> ReLU -> norm -> max-pool
over nodes (or `readout=flatten`); `block=residual` adds Zambaldi et al.'s residual and
feed-forward. Node i is feature-map cell (i // W, i % W); for MiniGrid (C, X, Y) observations
that is view cell x = i // 7, y = i % 7 (see `drlrun.viz.attention`). The last forward's
attention weights are kept in `att_map` (batch, heads, nodes, nodes) for plotting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from drlrun.errors import DrlrunError
from drlrun.nets.base import Torso, conv_relu, one_hot_codes
from drlrun.params import from_cfg
from drlrun.registry import register

Attention = Literal["dot", "additive", "book_additive"]
Norm = Literal["book", "feature", "none"]
Encoding = Literal["auto", "scale", "max", "onehot"]


# Architectures by input (null keys in net/relational.yaml take them from the preset):
# doorkey: the book's Listing 10.7 (1x1 convs keep the 7x7 view, 49 nodes, 3 heads of 64);
# mnist: Listing 10.2 (four 4x4 convs 28 -> 16, 256 nodes, 1 head of 36; 85,228 parameters);
# atari: 4x4 stride-2 convs 84 -> 41 -> 19 -> 8 (64 nodes), small enough for a CPU.
PRESETS: dict[str, dict] = {
    "doorkey": dict(channels=[16, 20], kernel=1, stride=1, pool=1, heads=3, node_size=64),
    "mnist": dict(channels=[16, 20, 24, 30], kernel=4, stride=1, pool=1, heads=1, node_size=36),
    "atari": dict(channels=[32, 64, 64], kernel=4, stride=2, pool=1, heads=3, node_size=64),
}


@dataclass
class RelationalParams:
    preset: Literal["auto", "doorkey", "mnist", "atari"] = "auto"
    channels: list[int] | None = None
    kernel: int | None = None
    stride: int | None = None
    pool: int | None = None  # max-pool window after each conv (1: none)
    # none (the book) | layer: each conv's output normalised per sample over (channels, height,
    # width) (GroupNorm with one group: no batch statistics, so acting on one state is the same)
    conv_norm: Literal["none", "layer"] = "none"
    heads: int | None = None
    node_size: int | None = None
    attention: Attention = "dot"
    additive_hidden: int = 64  # width of the pairwise additive score MLP
    norm: Norm = "book"  # book: LayerNorm over (heads, nodes, features) jointly, as in ch. 10
    coords: bool = True
    # max: max-pool over nodes (the book); flatten: keep every node's features in place (for a
    # fixed egocentric view, where a cell's position matters); mean: average over nodes
    readout: Literal["max", "flatten", "mean"] = "max"
    # auto: one-hot for symbolic grids (MiniGrid), else divide by the env's scale;
    # max: divide each observation by its own max (the book's DoorKey preprocessing, bug 5)
    encoding: Encoding = "auto"
    # book: attention -> merge -> ReLU -> norm (Listing 10.7; a node keeps its own identity only
    # through the weight it gives itself). residual: Zambaldi et al.'s block -- nodes embedded to
    # node_size, x + merge(attention(x)), then x + MLP(x), each followed by the norm.
    # net/relational.yaml defaults to residual (DQN on DoorKey does not learn with book).
    block: Literal["book", "residual"] = "book"


class SelfAttention(nn.Module):
    """Multi-head attention over nodes; rows of the weight matrix sum to 1 over keys."""

    def __init__(self, in_features: int, nodes: int, p: RelationalParams):
        super().__init__()
        h, d = p.heads, p.node_size
        self.heads, self.d, self.kind = h, d, p.attention
        self.k_proj = nn.Linear(in_features, h * d)
        self.q_proj = nn.Linear(in_features, h * d)
        self.v_proj = nn.Linear(in_features, h * d)
        self.k_norm, self.q_norm, self.v_norm = (_norm(p.norm, (h, nodes, d)) for _ in range(3))
        if p.attention == "book_additive":
            self.k_lin = nn.Linear(d, nodes)
            self.q_lin = nn.Linear(d, nodes)
            self.a_lin = nn.Linear(nodes, nodes)
        elif p.attention == "additive":
            self.k_lin = nn.Linear(d, p.additive_hidden)
            self.q_lin = nn.Linear(d, p.additive_hidden, bias=False)
            self.a_lin = nn.Linear(p.additive_hidden, 1)

    def weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(attention weights (b, h, n, n), values (b, h, n, d)) for nodes x (b, n, f)."""
        split = "b n (head d) -> b head n d"
        k = self.k_norm(rearrange(self.k_proj(x), split, head=self.heads))
        q = self.q_norm(rearrange(self.q_proj(x), split, head=self.heads))
        v = self.v_norm(rearrange(self.v_proj(x), split, head=self.heads))
        if self.kind == "dot":
            scores = torch.einsum("bhid,bhjd->bhij", q * self.d**-0.5, k)  # scale the smaller
        elif self.kind == "additive":  # score(i, j) = w . elu(W_q q_i + W_k k_j)
            hidden = F.elu(self.q_lin(q).unsqueeze(3) + self.k_lin(k).unsqueeze(2))
            scores = self.a_lin(hidden).squeeze(-1)
        else:  # the book's: row i depends only on node i's own query and key (bug 2)
            scores = self.a_lin(F.elu(self.q_lin(q) + self.k_lin(k)))
        return torch.softmax(scores, dim=3), v

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        att, v = self.weights(x)
        out = torch.einsum("bhij,bhjd->bhid", att, v)
        return rearrange(out, "b head n d -> b n (head d)"), att


def _norm(kind: Norm, shape: tuple[int, ...], affine: bool = True) -> nn.Module:
    if kind == "book":
        return nn.LayerNorm(shape, elementwise_affine=affine)
    if kind == "feature":
        return nn.LayerNorm(shape[-1], elementwise_affine=affine)
    return nn.Identity()


class RelationalTorso(Torso):
    """Image (C, H, W) -> (batch, node_size) through convs, attention and max-pool over nodes."""

    probes = ("doorkey_attention",)  # attention maps on MiniGrid views (viz/attention.py)

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        p: RelationalParams,
        obs_scale: float = 1.0,
        levels: tuple[int, ...] = (),
    ):
        super().__init__(obs_scale)
        self.p = p
        self.levels = tuple(levels) if p.encoding in ("auto", "onehot") else ()
        if p.encoding == "onehot" and not levels:
            raise DrlrunError("net.encoding=onehot needs a symbolic grid env (env=doorkey)")
        in_channels = channels = sum(self.levels) if self.levels else obs_shape[0]
        layers: list[nn.Module] = []
        for out in p.channels:
            layers += conv_relu(channels, out, p.kernel, p.stride, p.conv_norm)
            if p.pool > 1:
                layers.append(nn.MaxPool2d(p.pool))
            channels = out
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            _, _, height, width = self.convs(torch.zeros(1, in_channels, *obs_shape[1:])).shape
        if height * width < 1:
            raise DrlrunError(f"net=relational: the convs leave no nodes for input {obs_shape}")
        self.grid = (height, width)
        self.nodes = height * width
        rows = torch.arange(height).float().view(-1, 1).expand(height, width) / height
        cols = torch.arange(width).float().view(1, -1).expand(height, width) / width
        self.register_buffer("coords", torch.stack([rows, cols]), persistent=False)
        features = channels + (2 if p.coords else 0)
        self.embed: nn.Module = nn.Identity()
        self.feed_forward: nn.Module | None = None
        if p.block == "residual":
            self.embed = nn.Linear(features, p.node_size)
            features = p.node_size
            self.mid_norm = _norm(p.norm, (self.nodes, p.node_size))
            self.feed_forward = nn.Sequential(
                nn.Linear(p.node_size, p.node_size), nn.ReLU(), nn.Linear(p.node_size, p.node_size)
            )
        self.attention = SelfAttention(features, self.nodes, p)
        self.merge = nn.Linear(p.heads * p.node_size, p.node_size)
        self.out_norm = _norm(p.norm, (self.nodes, p.node_size), affine=False)
        self.out_features = p.node_size * (self.nodes if p.readout == "flatten" else 1)
        self.att_map: torch.Tensor | None = None
        self.conv_map: torch.Tensor | None = None

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """The network's input from raw observations (one-hot, fixed scale or per-state max)."""
        if self.levels:
            return one_hot_codes(obs, self.levels)
        if self.p.encoding == "max":
            x = obs.float()
            return x / x.flatten(1).amax(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)
        return self.prepare(obs)

    def nodes_of(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, nodes, features): one node per conv-map cell, coordinates appended."""
        fmap = self.convs(self.encode(obs))
        self.conv_map = fmap.detach()
        if self.p.coords:
            fmap = torch.cat([fmap, self.coords.expand(fmap.shape[0], -1, -1, -1)], dim=1)
        return rearrange(fmap, "b c h w -> b (h w) c")

    def attend(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-node outputs (batch, nodes, node_size) before pooling (permutation-equivariant)."""
        x = self.embed(self.nodes_of(obs))
        merged, att = self.attention(x)
        self.att_map = att.detach()
        if self.feed_forward is None:
            return self.out_norm(torch.relu(self.merge(merged)))
        x = self.mid_norm(x + self.merge(merged))
        return self.out_norm(torch.relu(x + self.feed_forward(x)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        nodes = self.attend(obs)
        if self.p.readout == "flatten":
            return nodes.flatten(1)
        return nodes.mean(dim=1) if self.p.readout == "mean" else nodes.amax(dim=1)


def resolve_preset(p: RelationalParams, env, shape: tuple[int, ...]) -> RelationalParams:
    """Fill unset architecture keys from `p.preset` (auto: chosen by the observation)."""
    name = p.preset
    if name == "auto":
        if getattr(env, "categorical_levels", ()):
            name = "doorkey"
        elif tuple(shape) == (1, 28, 28):
            name = "mnist"
        else:
            name = "atari"
    for key, value in PRESETS[name].items():
        if getattr(p, key) is None:
            setattr(p, key, value)
    return p


@register("net", "relational")
def build_relational(cfg, env) -> RelationalTorso:
    from drlrun.nets.cnn import require_image

    shape = require_image(env, "relational")
    p = resolve_preset(from_cfg(RelationalParams, cfg, "net"), env, shape)
    if not p.channels:
        raise DrlrunError("net.channels needs at least one conv layer")
    levels = tuple(getattr(env, "categorical_levels", ()) or ())
    return RelationalTorso(shape, p, env.obs_scale, levels)
