"""Shared preprocessing wrappers: frame stacking (channels first) with resumable state."""

from __future__ import annotations

import collections
from typing import Any

import gymnasium as gym
import numpy as np


class FrameStack(gym.ObservationWrapper):
    """Stack the last `k` frames on a new leading axis; a reset fills the stack with the first frame
    (the convention replay relies on to rebuild stacks across episode boundaries)."""

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        self.k = k
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        low = np.repeat(space.low[None], k, axis=0)
        high = np.repeat(space.high[None], k, axis=0)
        self.observation_space = gym.spaces.Box(low, high, dtype=space.dtype)
        self.frames: collections.deque[np.ndarray] = collections.deque(maxlen=k)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.k):
            self.frames.append(obs)
        return self.observation(None), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return self.observation(None), reward, terminated, truncated, info

    def observation(self, observation: Any) -> np.ndarray:
        return np.stack(self.frames)

    def get_state(self) -> dict[str, Any]:
        return {"frames": [f.copy() for f in self.frames]}

    def set_state(self, state: dict[str, Any]) -> None:
        self.frames.clear()
        self.frames.extend(np.asarray(f) for f in state["frames"])


class ScaleReward(gym.RewardWrapper):
    """Multiply rewards by a constant (book presets' reward shaping lives elsewhere)."""

    def __init__(self, env: gym.Env, scale: float):
        super().__init__(env)
        self.scale = scale

    def reward(self, reward: float) -> float:
        return reward * self.scale
