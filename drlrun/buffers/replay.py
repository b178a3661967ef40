"""Uniform replay: a preallocated numpy ring per vector-env column.

Pixel observations are stored once, as the newest frame of each step, and stacks are rebuilt by
index at sample time (repeating an episode's first frame before its start, as the FrameStack
wrapper does). The last observation of an episode that ends by truncation is kept separately so
it can be bootstrapped from. n-step returns are computed at sample time, vectorised over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

INT64 = np.dtype(np.int64)
RING_ARRAYS = ("frames", "actions", "rewards", "terminated", "done", "first")  # one row per step


@dataclass
class Batch:
    """A sampled batch. `discounts` is gamma^m for the bootstrap term, 0 after termination."""

    obs: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    discounts: np.ndarray
    next_obs: np.ndarray
    rows: np.ndarray
    envs: np.ndarray
    weights: np.ndarray | None = None


class ReplayBuffer:
    uses_priorities = False  # prioritized replay sets True to receive TD errors

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        frame_stack: int = 1,
        action_shape: tuple[int, ...] = (),
        action_dtype: np.dtype = INT64,
    ):
        self.num_envs = num_envs
        self.rows = max(1, math.ceil(capacity / num_envs))
        self.k = frame_stack
        self.obs_shape = tuple(obs_shape)
        frame_shape = self.obs_shape[1:] if frame_stack > 1 else self.obs_shape
        self.frames = np.zeros((self.rows, num_envs, *frame_shape), dtype=obs_dtype)
        self.actions = np.zeros((self.rows, num_envs, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros((self.rows, num_envs), dtype=np.float32)
        self.terminated = np.zeros((self.rows, num_envs), dtype=bool)
        self.done = np.zeros((self.rows, num_envs), dtype=bool)
        self.first = np.zeros((self.rows, num_envs), dtype=bool)
        self.final: dict[int, np.ndarray] = {}
        self.pos = 0
        self.filled = 0
        self.written = 0  # rows ever added: the replay store's clock (row = written % rows)
        self._next_first = np.ones(num_envs, dtype=bool)

    def __len__(self) -> int:
        return self.filled * self.num_envs

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.ring_arrays().values())

    def ring_arrays(self) -> dict[str, np.ndarray]:
        """The live per-step arrays (first axis: ring row), the bulk of the buffer."""
        return {name: getattr(self, name) for name in RING_ARRAYS}

    def _frame(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, -1] if self.k > 1 else obs

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: dict[int, np.ndarray],
    ) -> None:
        """Store one vector step: `obs` is what the agent acted on, `final_obs` the last
        observations of envs whose episode ended (only truncations are ever bootstrapped)."""
        row = self.pos
        for env in range(self.num_envs):
            self.final.pop(row * self.num_envs + env, None)
        self.frames[row] = self._frame(obs)
        self.actions[row] = actions
        self.rewards[row] = rewards
        self.terminated[row] = terminated
        done = terminated | truncated
        self.done[row] = done
        self.first[row] = self._next_first
        self._next_first = done.copy()
        for env, last in final_obs.items():
            if truncated[env] and not terminated[env]:
                self.final[row * self.num_envs + env] = (last[-1] if self.k > 1 else last).copy()
        self.pos = (row + 1) % self.rows
        self.filled = min(self.filled + 1, self.rows)
        self.written += 1

    def can_sample(self, n_step: int = 1) -> bool:
        return self.filled - self.k >= n_step

    def _rows_from_ages(self, ages: np.ndarray) -> np.ndarray:
        return (self.pos - 1 - ages) % self.rows

    def sample_indices(self, batch_size: int, n_step: int, rng: np.random.Generator):
        """Uniform (row, env) pairs whose n-step look-ahead and frame history are stored."""
        ages = rng.integers(n_step, self.filled - self.k + 1, size=batch_size)
        envs = rng.integers(0, self.num_envs, size=batch_size)
        return self._rows_from_ages(ages), envs, None

    def _stack(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """Observations ending at `rows`, rebuilt from single frames."""
        if self.k == 1:
            return self.frames[rows, envs]
        out = np.empty((len(rows), self.k, *self.frames.shape[2:]), dtype=self.frames.dtype)
        cur = rows.copy()
        out[:, -1] = self.frames[cur, envs]
        for j in range(2, self.k + 1):
            cur = np.where(self.first[cur, envs], cur, (cur - 1) % self.rows)
            out[:, -j] = self.frames[cur, envs]
        return out

    def gather(
        self, rows: np.ndarray, envs: np.ndarray, n_step: int, gamma: float, weights=None
    ) -> Batch:
        """Build the n-step batch for the chosen transitions."""
        if n_step == 1 and self.k == 1:
            return self._gather_one_step(rows, envs, gamma, weights)
        b = len(rows)
        returns = np.zeros(b, dtype=np.float32)
        discounts = np.full(b, gamma**n_step, dtype=np.float32)
        alive = np.ones(b, dtype=bool)
        end_rows = (rows + n_step) % self.rows  # where the bootstrap observation ends
        truncated_at = np.full(b, -1, dtype=np.int64)
        for j in range(n_step):
            r = (rows + j) % self.rows
            returns += np.where(alive, (gamma**j) * self.rewards[r, envs], 0.0).astype(np.float32)
            ended = alive & self.done[r, envs]
            term = ended & self.terminated[r, envs]
            discounts[term] = 0.0
            trunc = ended & ~self.terminated[r, envs]
            discounts[trunc] = gamma ** (j + 1)
            truncated_at[trunc] = r[trunc]
            alive &= ~ended
        next_obs = self._stack(end_rows, envs)
        for i in np.flatnonzero(truncated_at >= 0):
            row, env = truncated_at[i], envs[i]
            last = self.final[row * self.num_envs + env]
            if self.k == 1:
                next_obs[i] = last
            else:
                next_obs[i, :-1] = self._stack(np.array([row]), np.array([env]))[0, 1:]
                next_obs[i, -1] = last
        return Batch(
            obs=self._stack(rows, envs),
            actions=self.actions[rows, envs],
            returns=returns,
            discounts=discounts,
            next_obs=next_obs,
            rows=rows,
            envs=envs,
            weights=weights,
        )

    def _gather_one_step(self, rows: np.ndarray, envs: np.ndarray, gamma: float, weights) -> Batch:
        """The common 1-step, unstacked case without the n-step loop (same result as `gather`)."""
        terminated = self.terminated[rows, envs]
        discounts = np.where(terminated, 0.0, gamma).astype(np.float32)
        next_obs = self.frames[(rows + 1) % self.rows, envs]
        for i in np.flatnonzero(self.done[rows, envs] & ~terminated):
            next_obs[i] = self.final[rows[i] * self.num_envs + envs[i]]
        return Batch(
            obs=self.frames[rows, envs],
            actions=self.actions[rows, envs],
            returns=self.rewards[rows, envs],
            discounts=discounts,
            next_obs=next_obs,
            rows=rows,
            envs=envs,
            weights=weights,
        )

    def sample(
        self, batch_size: int, rng: np.random.Generator, n_step: int = 1, gamma: float = 0.99
    ):
        rows, envs, weights = self.sample_indices(batch_size, n_step, rng)
        return self.gather(rows, envs, n_step, gamma, weights)

    def update_priorities(self, batch: Batch, td_errors: np.ndarray) -> None:
        """Uniform replay ignores priorities; prioritized replay overrides this."""

    def state_dict(self, arrays: bool = True) -> dict[str, Any]:
        """Everything to continue exactly. `arrays=False` leaves out the ring arrays (the
        runner's replay store keeps them in the run dir) and adds the `written` clock instead."""
        keys = sorted(self.final)
        state: dict[str, Any] = dict(self.ring_arrays()) if arrays else {"written": self.written}
        state.update(
            final_keys=np.asarray(keys, dtype=np.int64),
            final_frames=np.stack([self.final[k] for k in keys]) if keys else None,
            pos=self.pos,
            filled=self.filled,
            next_first=self._next_first,
        )
        return state

    def load_state_dict(self, state: dict[str, Any], arrays: bool = True) -> None:
        """Inverse of `state_dict(arrays)`; without arrays the replay store restores them."""
        if arrays:
            for name, target in self.ring_arrays().items():
                if target.shape != state[name].shape:
                    raise ValueError(f"replay {name} shape {state[name].shape} != {target.shape}")
                target[...] = state[name]
        else:
            self.written = int(state["written"])
        frames = state["final_frames"]
        self.final = {int(k): frames[i].copy() for i, k in enumerate(state["final_keys"])}
        self.pos, self.filled = int(state["pos"]), int(state["filled"])
        self._next_first = np.asarray(state["next_first"], dtype=bool).copy()
