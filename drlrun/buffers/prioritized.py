"""Proportional prioritized experience replay (Schaul et al. 2016) on top of the uniform ring.

Transition i is drawn with probability P(i) = p_i^alpha / sum_k p_k^alpha, where p_i is its last
|TD error| (+ eps; new transitions get the largest priority seen so far), and its loss is weighted
by w_i = (N * P(i))^-beta / max_k w_k, with beta annealed linearly from `beta_start` to 1 over
`beta_frames` added frames. Only transitions whose n-step look-ahead and frame history are stored
carry priority in the sum tree, so every draw is a valid one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drlrun.buffers.replay import Batch, ReplayBuffer
from drlrun.buffers.sumtree import SumTree


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016) over the uniform buffer's storage."""

    uses_priorities = True  # the learner passes TD errors back after each update

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        frame_stack: int = 1,
        *,
        n_step: int = 1,
        alpha: float = 0.6,
        beta_start: float = 0.4,
        beta_frames: int = 100_000,
        eps: float = 1e-6,
        **kwargs: Any,
    ):
        super().__init__(capacity, num_envs, obs_shape, obs_dtype, frame_stack, **kwargs)
        if alpha < 0 or not 0 <= beta_start <= 1 or eps <= 0 or n_step < 1:
            raise ValueError("need alpha >= 0, 0 <= beta_start <= 1, eps > 0 and n_step >= 1")
        self.n_step, self.alpha, self.eps = n_step, alpha, eps
        self.beta_start, self.beta_frames = beta_start, max(1, beta_frames)
        self.tree = SumTree(self.rows * num_envs)
        self.priority = np.zeros(self.rows * num_envs, dtype=np.float64)  # p^alpha, valid or not
        self.max_priority = 1.0
        self.added = 0

    @property
    def beta(self) -> float:
        progress = min(1.0, self.added / self.beta_frames)
        return self.beta_start + (1.0 - self.beta_start) * progress

    def _flat(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        return rows * self.num_envs + envs

    def _refresh(self, ages: list[int]) -> None:
        """Re-derive the tree leaves of rows at `ages`: their priority if sampleable, else 0."""
        for age in {a for a in ages if 0 <= a < self.filled}:
            row = int(self._rows_from_ages(np.array([age]))[0])
            valid = self.n_step <= age <= self.filled - self.k
            flat = self._flat(np.full(self.num_envs, row), np.arange(self.num_envs))
            self.tree.update(flat, self.priority[flat] if valid else 0.0)

    def add(self, obs, actions, rewards, terminated, truncated, final_obs) -> None:
        row = self.pos
        super().add(obs, actions, rewards, terminated, truncated, final_obs)
        self.added += self.num_envs
        flat = self._flat(np.full(self.num_envs, row), np.arange(self.num_envs))
        self.priority[flat] = self.max_priority**self.alpha
        # after an add only three ages can change validity: the new row (age 0), the row whose
        # n-step look-ahead just completed (age n) and, once full, the oldest still usable row
        self._refresh([0, self.n_step, self.filled - self.k + 1])

    def sample_indices(self, batch_size: int, n_step: int, rng: np.random.Generator):
        if n_step != self.n_step:
            raise ValueError(f"this buffer was built for n_step={self.n_step}, asked for {n_step}")
        flat = self.tree.sample(batch_size, rng)
        # w_i / max_k w_k = (P(i) / min_k P(k))^-beta: the buffer size N cancels
        weights = (self.tree[flat] / self.tree.min) ** -self.beta
        return flat // self.num_envs, flat % self.num_envs, weights.astype(np.float32)

    def update_priorities(self, batch: Batch, td_errors: np.ndarray) -> None:
        p = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(p.max()))
        flat = self._flat(batch.rows, batch.envs)
        self.priority[flat] = p**self.alpha
        # a transition that became unsampleable since it was drawn keeps a zero leaf
        live = self.tree[flat] > 0
        self.tree.update(flat[live], self.priority[flat[live]])

    def state_dict(self, arrays: bool = True) -> dict[str, Any]:
        state = super().state_dict(arrays)
        state["priority"] = self.priority
        state["tree_leaves"] = self.tree.state_dict()["leaves"]
        state["max_priority"] = self.max_priority
        state["added"] = self.added
        return state

    def load_state_dict(self, state: dict[str, Any], arrays: bool = True) -> None:
        super().load_state_dict(state, arrays)
        self.priority[...] = state["priority"]
        self.tree.load_state_dict({"leaves": state["tree_leaves"]})
        self.max_priority = float(state["max_priority"])
        self.added = int(state["added"])
