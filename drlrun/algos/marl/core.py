"""Building blocks of the multi-agent Q learners (book ch. 9): team Q networks with optional
per-agent parameters, Boltzmann sampling, the Q target (with the book's column-indexing bug as a
switch), a row replay, and action inference with mean-field / joint-action refinement.

Everything is batched over the agents of a team: one forward per refinement pass, one update per
batch; per-agent networks (the book's 1D Ising) are one (G, in, out) weight tensor gathered by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from drlrun.envs.multiagent import one_hot
from drlrun.nets.team import TeamQNet


def boltzmann(q: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row from softmax(q / temperature); temperature 0 is argmax."""
    if temperature <= 0:
        return q.argmax(axis=1)
    z = (q - q.max(axis=1, keepdims=True)) / temperature
    p = np.exp(z)
    cdf = np.cumsum(p, axis=1)
    u = rng.random((q.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), q.shape[1] - 1)


def softmax_np(q: np.ndarray, temperature: float) -> np.ndarray:
    z = (q - q.max(axis=-1, keepdims=True)) / max(temperature, 1e-8)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def q_target(
    q_all: torch.Tensor, actions: torch.Tensor, y: torch.Tensor, book: bool
) -> torch.Tensor:
    """The regression target for every (row, action): Q's own value except y at the taken action.

    Fixed: `target[arange(B), a] = y` (one entry per row). Book (ch. 9 bug 3):
    `target[:, a] = y` writes whole columns, so every row of the batch gets some other row's y
    in every column any row took."""
    target = q_all.detach().clone()
    if book:
        target[:, actions] = y.unsqueeze(0).expand(target.shape[0], -1)
    else:
        target[torch.arange(target.shape[0], device=target.device), actions] = y
    return target


class RowReplay:
    """A numpy ring of per-agent transitions (one row per agent per step)."""

    FIELDS = ("obs", "x", "action", "reward", "done", "obs_next", "x_next", "group", "v_stale")

    def __init__(self, capacity: int, obs_dim: int, x_dim: int):
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.data = {
            "obs": np.zeros((capacity, obs_dim), np.float32),
            "x": np.zeros((capacity, x_dim), np.float32),
            "action": np.zeros(capacity, np.int64),
            "reward": np.zeros(capacity, np.float32),
            "done": np.zeros(capacity, np.float32),
            "obs_next": np.zeros((capacity, obs_dim), np.float32),
            "x_next": np.zeros((capacity, x_dim), np.float32),
            "group": np.zeros(capacity, np.int64),
            "v_stale": np.zeros(capacity, np.float32),
        }

    def add(self, **rows: np.ndarray) -> None:
        n = len(rows["action"])
        idx = (self.pos + np.arange(n)) % self.capacity
        for key, value in rows.items():
            self.data[key][idx] = value
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if batch >= self.size == self.capacity:  # online learning: every stored row once, in order
            idx = (self.pos + np.arange(self.size)) % self.capacity
        else:
            idx = rng.integers(0, self.size, size=batch)
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "pos": self.pos,
            "data": {k: v[: self.size].copy() for k, v in self.data.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.pos = int(state["size"]), int(state["pos"])
        for k, v in state["data"].items():
            self.data[k][: self.size] = v


@dataclass
class PolicySpec:
    """How a team's Q network reads the game: which inputs and how actions are inferred."""

    n_actions: int
    use_obs: bool
    interaction: str  # "mean" (MF-Q), "joint" (neighbourhood Q), "none" (independent Q)
    n_joint: int = 0
    num_iter: int = 1  # refinement passes: interaction features <-> sampled actions

    @property
    def x_dim(self) -> int:
        return {"mean": self.n_actions, "joint": self.n_joint, "none": 0}[self.interaction]


def interaction_features(spec: PolicySpec, env: Any, team: int, actions: np.ndarray) -> np.ndarray:
    """The neighbours' actions as Q input: mean one-hot (MF-Q) or joint one-hot (NQ)."""
    n = len(actions)
    if spec.interaction == "mean":
        return env.mean_field(team, actions)
    if spec.interaction == "joint":
        return one_hot(env.joint_index(team, actions), spec.n_joint)
    return np.zeros((n, 0), np.float32)


def q_input(spec: PolicySpec, obs: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.concatenate([obs, x], axis=1) if spec.use_obs else x


def infer_actions(
    spec: PolicySpec,
    net: TeamQNet,
    env: Any,
    team: int,
    obs: np.ndarray,
    start: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    group: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternate `num_iter` times between the neighbours' features from the tentative actions
    and new actions sampled from softmax(Q / T) (book `infer_acts`); returns (actions, features
    the last actions were chosen under, Q rows of the last pass)."""
    actions = start
    x = q = None
    device = net.weights[0].device
    with torch.no_grad():
        for _ in range(max(1, spec.num_iter)):
            x = interaction_features(spec, env, team, actions)
            q = net(torch.from_numpy(q_input(spec, obs, x)).to(device), group).cpu().numpy()
            actions = boltzmann(q, temperature, rng)
    return actions, x, q
