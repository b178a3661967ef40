"""A direct policy (torso + linear output) and its action rules, for gradient-free search.

Evolution never differentiates the policy, so the action rule is a plain function of the
network output and uniform numbers the caller draws from its own generator (one per rollout):
that keeps every rollout reproducible however rollouts are batched.
"""

from __future__ import annotations

from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from drlrun.errors import DrlrunError
from drlrun.nets.base import build_torso

ActionRule = Literal["argmax", "sample", "sample_book"]


class PolicyNet(nn.Module):
    """torso -> Linear(out): logits for a Discrete space, pre-tanh actions for a Box space."""

    def __init__(self, torso: nn.Module, out_features: int):
        super().__init__()
        self.torso = torso
        self.out = nn.Linear(torso.out_features, out_features)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.out(self.torso(obs))


class ActionMap:
    """Turns policy outputs into env actions.

    Discrete: `argmax`, `sample` (Categorical over softmax(logits)), or `sample_book`, the book's
    `Categorical(probs=log_softmax(y))`, which renormalises negative log-probs and so favours the
    less likely action (book bug 1). Box: tanh scaled to the bounds (deterministic)."""

    def __init__(self, space: gym.spaces.Space, rule: ActionRule):
        self.space, self.rule = space, rule
        if isinstance(space, gym.spaces.Discrete):
            self.discrete, self.out_features = True, int(space.n)
        elif isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
            self.discrete, self.out_features = False, int(space.shape[0])
            if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
                raise DrlrunError(f"a Box action space needs finite bounds, got {space}")
            self.low = space.low.astype(np.float32)
            self.high = space.high.astype(np.float32)
        else:
            raise DrlrunError(
                f"evolution policies need a Discrete or 1-D Box action space, got {space}"
            )

    @property
    def stochastic(self) -> bool:
        return self.discrete and self.rule != "argmax"

    def __call__(self, out: np.ndarray, uniforms: np.ndarray | None) -> np.ndarray:
        """`out`: (B, out_features) network outputs; `uniforms`: (B,) U[0,1) numbers for sampling."""
        if not self.discrete:
            return self.low + (np.tanh(out) + 1.0) * 0.5 * (self.high - self.low)
        if self.rule == "argmax":
            return out.argmax(axis=1)
        logp = out - _logsumexp(out)
        probs = np.exp(logp) if self.rule == "sample" else logp / logp.sum(axis=1, keepdims=True)
        cdf = np.cumsum(probs, axis=1)
        cdf /= cdf[:, -1:]
        assert uniforms is not None, "sampling rules need uniforms"
        picks = (uniforms[:, None] >= cdf).sum(axis=1)
        return np.minimum(picks, self.out_features - 1)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def build_policy(net_cfg, env_factory, rule: ActionRule) -> tuple[PolicyNet, ActionMap]:
    """The `net` torso for this env plus an output layer sized for its action space."""
    actions = ActionMap(env_factory.action_space, rule)
    torso = build_torso(net_cfg, env_factory)
    return PolicyNet(torso, actions.out_features), actions
