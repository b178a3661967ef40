"""Sequence replay (R2D2 style): whole episodes stored, length-L windows with a burn-in prefix.

A sample is a window of `burn_in + seq_len + n_step` observations of one episode. Its loss
positions are the `seq_len` steps from a uniformly drawn start `s`; the burn-in prefix before
`s` only warms up the recurrent state (the learner runs it without gradients and it carries no
loss). Windows never leave their episode: burn-in before the episode start is left padding
(`first` tells the learner where the episode's first real observation is, and the state is reset
there) and steps after the episode end are right padding with `mask` False.
`aligned=True` snaps `s` down to a multiple of L from the episode start (DRQN's sequential
segments): an episode no longer than L trains whole, so the loss reaches its first step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SequenceBatch:
    """obs (B, burn_in + L + n, *obs); the rest (B, L) over loss positions, except `first` (B,).

    `boot[i, j]` indexes the bootstrap observation among the post-burn-in positions
    (0 .. L + n - 1); `discounts` is gamma^m, 0 after termination; `mask` marks real steps."""

    obs: np.ndarray
    first: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    discounts: np.ndarray
    boot: np.ndarray
    mask: np.ndarray
    weights: np.ndarray | None = None


@dataclass
class StoredEpisode:
    obs: np.ndarray  # (T + 1, *obs): the last entry is the final observation
    actions: np.ndarray  # (T,)
    rewards: np.ndarray  # (T,)
    terminated: bool


class SequenceReplay:
    """Finished episodes, oldest evicted first once more than `capacity` steps are stored."""

    uses_priorities = False

    def __init__(self, capacity: int, num_envs: int, obs_shape: tuple[int, ...], dtype):
        self.capacity, self.num_envs = capacity, num_envs
        self.obs_shape, self.dtype = tuple(obs_shape), np.dtype(dtype)
        self.episodes: deque[StoredEpisode] = deque()
        self.steps = 0
        self.partial: list[dict[str, list]] = [self._empty() for _ in range(num_envs)]
        self._cum: np.ndarray | None = None

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"obs": [], "actions": [], "rewards": []}

    @property
    def nbytes(self) -> int:
        return sum(e.obs.nbytes + e.actions.nbytes + e.rewards.nbytes for e in self.episodes)

    def add(self, obs, actions, rewards, terminated, truncated, final_obs) -> None:
        """One vector step (same arguments as `ReplayBuffer.add`)."""
        for i in range(self.num_envs):
            part = self.partial[i]
            part["obs"].append(np.array(obs[i], dtype=self.dtype))
            part["actions"].append(int(actions[i]))
            part["rewards"].append(float(rewards[i]))
            if terminated[i] or truncated[i]:
                last = np.asarray(final_obs[i], dtype=self.dtype)
                self.store(
                    StoredEpisode(
                        np.stack([*part["obs"], last]),
                        np.asarray(part["actions"], dtype=np.int64),
                        np.asarray(part["rewards"], dtype=np.float32),
                        bool(terminated[i]),
                    )
                )
                self.partial[i] = self._empty()

    def store(self, episode: StoredEpisode) -> None:
        self.episodes.append(episode)
        self.steps += len(episode.actions)
        while self.steps > self.capacity and len(self.episodes) > 1:
            self.steps -= len(self.episodes.popleft().actions)
        self._cum = None

    def can_sample(self, n_step: int = 1) -> bool:
        return len(self.episodes) > 0

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        seq_len: int,
        burn_in: int,
        n_step: int = 1,
        gamma: float = 0.99,
        aligned: bool = False,
    ) -> SequenceBatch:
        """Windows whose start is uniform over stored steps (episodes drawn by length), or with
        `aligned` the start of the length-`seq_len` segment holding that step."""
        if self._cum is None:
            self._cum = np.cumsum([len(e.actions) for e in self.episodes])
        picks = np.searchsorted(self._cum, rng.integers(0, self._cum[-1], size=batch_size), "right")
        width = burn_in + seq_len + n_step
        obs = np.zeros((batch_size, width, *self.obs_shape), dtype=self.dtype)
        first = np.zeros(batch_size, dtype=np.int64)
        actions = np.zeros((batch_size, seq_len), dtype=np.int64)
        returns = np.zeros((batch_size, seq_len), dtype=np.float32)
        discounts = np.zeros((batch_size, seq_len), dtype=np.float32)
        boot = np.zeros((batch_size, seq_len), dtype=np.int64)
        mask = np.zeros((batch_size, seq_len), dtype=bool)
        powers = gamma ** np.arange(n_step + 1, dtype=np.float64)
        for b, k in enumerate(picks):
            ep = self.episodes[k]
            length = len(ep.actions)
            s = int(rng.integers(0, length))
            if aligned:
                s -= s % seq_len
            t0 = s - burn_in  # time of window position 0 (negative: left padding)
            lo, hi = max(t0, 0), min(t0 + width, length + 1)
            obs[b, lo - t0 : hi - t0] = ep.obs[lo:hi]
            first[b] = lo - t0
            times = s + np.arange(seq_len)
            real = times < length
            mask[b] = real
            t = times[real]
            actions[b, real] = ep.actions[t]
            ret = np.zeros(len(t))
            for j in range(n_step):
                inside = t + j < length
                ret[inside] += powers[j] * ep.rewards[np.minimum(t + j, length - 1)][inside]
            returns[b, real] = ret
            end = np.minimum(t + n_step, length)
            disc = powers[end - t]
            if ep.terminated:
                disc[end == length] = 0.0
            discounts[b, real] = disc
            boot[b, real] = end - s
        return SequenceBatch(obs, first, actions, returns, discounts, boot, mask)

    def state_dict(self) -> dict[str, Any]:
        eps = list(self.episodes)
        cat = np.concatenate
        return {
            "lengths": np.asarray([len(e.actions) for e in eps], dtype=np.int64),
            "obs": cat([e.obs for e in eps]) if eps else None,
            "actions": cat([e.actions for e in eps]) if eps else None,
            "rewards": cat([e.rewards for e in eps]) if eps else None,
            "terminated": np.asarray([e.terminated for e in eps], dtype=bool),
            "partial": [
                {
                    "obs": np.stack(p["obs"]) if p["obs"] else None,
                    "actions": np.asarray(p["actions"], dtype=np.int64),
                    "rewards": np.asarray(p["rewards"], dtype=np.float64),
                }
                for p in self.partial
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes.clear()
        self.steps = 0
        o = a = 0
        for length, term in zip(state["lengths"], state["terminated"], strict=True):
            length = int(length)
            self.store(
                StoredEpisode(
                    state["obs"][o : o + length + 1].copy(),
                    state["actions"][a : a + length].copy(),
                    state["rewards"][a : a + length].copy(),
                    bool(term),
                )
            )
            o, a = o + length + 1, a + length
        self.partial = [
            {
                "obs": [] if p["obs"] is None else list(p["obs"]),
                "actions": [int(x) for x in p["actions"]],
                "rewards": [float(x) for x in p["rewards"]],
            }
            for p in state["partial"]
        ]
