"""Sequence torsos for partial observability: the shared interface and the LSTM baseline.

A sequence torso maps a batch of observation sequences and a carried state to per-step
features. Acting calls it with T = 1 and keeps the state between env steps (reset at episode
start); the Q learner's sequence replay (algos/q/sequence.py) calls it on replayed windows
starting from `initial_state`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.nets.base import Torso
from drlrun.params import from_cfg
from drlrun.registry import register

State = tuple[torch.Tensor, ...]
F_ = TypeVar("F_", bound=Callable[..., Any])


def stateful(builder: F_) -> F_:
    """Decorator for a net builder whose torso is a `SequenceTorso`: learners that take it
    replay sequences and carry its state (algos/q/sequence.py); feedforward-only ones refuse it."""
    builder.stateful = True  # type: ignore[attr-defined]
    return builder


class SequenceTorso(Torso):
    """(B, T, *obs) + state -> (B, T, out_features) + state. Every state tensor is batch-first."""

    probes = ("sequence",)  # memory reads/writes or attention over an episode (viz/sequence.py)

    def initial_state(self, batch: int, device: torch.device) -> State:
        raise NotImplementedError

    def forward_seq(self, obs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Single observations with a fresh state (what a memoryless caller would see)."""
        features, _ = self.forward_seq(obs.unsqueeze(1), self.initial_state(len(obs), obs.device))
        return features.squeeze(1)

    def reset_state(self, state: State, done: torch.Tensor) -> State:
        """Entries of `state` whose `done` flag is set go back to the initial state."""
        init = self.initial_state(len(done), done.device)
        out = []
        for s, s0 in zip(state, init, strict=True):
            mask = done.view(-1, *([1] * (s.dim() - 1)))
            out.append(torch.where(mask, s0.to(s.dtype), s))
        return tuple(out)

    def burn_in(self, obs: torch.Tensor, first: torch.Tensor) -> State:
        """The state after the prefix `obs` (B, T, *obs), fresh at step `first` (B,); no grads."""
        state = self.initial_state(obs.shape[0], obs.device)
        with torch.no_grad():
            for t in range(obs.shape[1]):
                state = self.reset_state(state, first == t)
                _, state = self.forward_seq(obs[:, t : t + 1], state)
            state = self.reset_state(state, first == obs.shape[1])  # episode starts after it
        return tuple(s.detach() for s in state)

    def aux_loss(self) -> torch.Tensor | None:
        """An extra loss term from the last `forward_seq` (memory: read-entropy penalty)."""
        return None

    def embed_input(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, T, *obs) -> (B, T, features) as floats."""
        return self.prepare(obs).flatten(2)


@dataclass
class LSTMParams:
    embed: int = 64
    hidden: int = 128


class LSTMTorso(SequenceTorso):
    """Linear embedding -> ReLU -> LSTM; the baseline recurrent Q-network torso."""

    def __init__(self, in_features: int, p: LSTMParams, obs_scale: float = 1.0):
        super().__init__(obs_scale)
        self.embed = nn.Linear(in_features, p.embed)
        self.lstm = nn.LSTM(p.embed, p.hidden, batch_first=True)
        self.hidden = p.hidden
        self.out_features = p.hidden

    def initial_state(self, batch: int, device: torch.device) -> State:
        zeros = torch.zeros(batch, self.hidden, device=device)
        return zeros, zeros.clone()

    def forward_seq(self, obs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = F.relu(self.embed(self.embed_input(obs)))
        h, c = state
        out, (h, c) = self.lstm(x, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
        return out, (h.squeeze(0), c.squeeze(0))


def in_features(env) -> int:
    return int(np.prod(env.observation_space.shape))


@register("net", "lstm")
@stateful
def build_lstm(cfg, env) -> LSTMTorso:
    return LSTMTorso(in_features(env), from_cfg(LSTMParams, cfg, "net"), env.obs_scale)
