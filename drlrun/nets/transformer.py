"""Transformer torso (DQN + Transformer): causal self-attention over the last L observations.

Each step's features come from the last token of its own window of the `context` most recent
observations (positions are window-relative, newest last), so acting with a cache of L - 1
observations and training on replayed sequences compute exactly the same function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from drlrun.nets.sequence import SequenceTorso, State, in_features, stateful
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class TransformerParams:
    context: int = 8
    width: int = 64
    heads: int = 2
    layers: int = 1
    ff: int = 128
    positions: Literal["learned", "sinusoidal"] = "learned"

    def __post_init__(self) -> None:
        if self.context < 1 or self.layers < 1 or self.heads < 1:
            raise ValueError("context, heads and layers must be >= 1")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")


def sinusoidal(length: int, width: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al. (2017), (length, width)."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(1e4) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : width // 2]
    return table


class Block(nn.Module):
    """Pre-norm block: x + MHA(LN(x)), then x + FF(LN(x)); keeps its last attention weights."""

    def __init__(self, width: int, heads: int, ff: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ff = nn.Sequential(nn.Linear(width, ff), nn.ReLU(), nn.Linear(ff, width))
        self.attention: torch.Tensor | None = None  # (N, heads, L, L) of the last call

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(n, length, self.heads, -1).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        self.attention = weights.detach()
        mixed = (weights @ v).transpose(1, 2).reshape(n, length, width)
        x = x + self.proj(mixed)
        return x + self.ff(self.norm2(x))


class TransformerTorso(SequenceTorso):
    """Embedding + positions -> causal transformer blocks -> final LayerNorm of the last token."""

    def __init__(self, in_dim: int, p: TransformerParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        self.p, self.in_dim = p, in_dim
        self.embed = nn.Linear(in_dim, p.width)
        if p.positions == "learned":
            self.positions = nn.Parameter(torch.randn(p.context, p.width) * 0.02)
        else:
            self.register_buffer("positions", sinusoidal(p.context, p.width), persistent=False)
        self.blocks = nn.ModuleList(Block(p.width, p.heads, p.ff) for _ in range(p.layers))
        self.norm = nn.LayerNorm(p.width)
        causal = torch.tril(torch.ones(p.context, p.context, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)
        self.out_features = p.width

    def initial_state(self, batch: int, device: torch.device) -> State:
        """The cache: the previous L - 1 raw observations and whether each is real."""
        past = self.p.context - 1
        return (
            torch.zeros(batch, past, self.in_dim, device=device),
            torch.zeros(batch, past, dtype=torch.bool, device=device),
        )

    def forward_seq(self, obs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        batch, steps = obs.shape[:2]
        length, past = self.p.context, self.p.context - 1
        cache, cache_valid = state
        raw = torch.cat([cache, self.embed_input(obs)], dim=1)  # (B, L-1+T, in)
        valid = torch.cat([cache_valid, cache_valid.new_ones(batch, steps)], dim=1)
        x = self.embed(raw)
        # one window of the last L embeddings per new step: (B*T, L, width), newest last
        windows = x.unfold(1, length, 1).permute(0, 1, 3, 2).reshape(-1, length, x.shape[-1])
        keys = valid.unfold(1, length, 1).reshape(-1, length)
        h = windows + self.positions
        allowed = self.causal & keys.unsqueeze(1)
        # a padded query would see no key at all; let it see itself (its output is never used)
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=obs.device)
        for block in self.blocks:
            h = block(h, allowed)
        features = self.norm(h[:, -1]).view(batch, steps, -1)
        new_state = (raw[:, -past:].detach(), valid[:, -past:]) if past else state
        return features, new_state

    def burn_in(self, obs: torch.Tensor, first: torch.Tensor) -> State:
        """The cache is just the prefix's last L - 1 observations (no forward pass needed)."""
        batch, steps = obs.shape[:2]
        cache, valid = self.initial_state(batch, obs.device)
        past = self.p.context - 1
        keep = min(past, steps)
        if keep:
            raw = self.embed_input(obs[:, steps - keep :])
            times = torch.arange(steps - keep, steps, device=obs.device)
            cache = torch.cat([cache[:, keep:], raw], dim=1)
            valid = torch.cat([valid[:, keep:], times >= first.unsqueeze(1)], dim=1)
        return cache, valid

    def last_attention(self) -> torch.Tensor | None:
        """The last block's attention of the newest token over its window, (N, heads, L)."""
        att = self.blocks[-1].attention
        return None if att is None else att[:, :, -1]


@register("net", "transformer")
@stateful
def build_transformer(cfg, env) -> TransformerTorso:
    p = from_cfg(TransformerParams, cfg, "net")
    return TransformerTorso(in_features(env), p, env.obs_scale)
