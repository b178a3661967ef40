"""MiniGrid Memory (`env=memory`): remember the cue object, pick its match at the corridor end.

The agent sees a 7x7 egocentric view, one-hot encoded (object, colour, state per cell); a
memoryless policy is capped near 50% success. `env.frame_stack` > 1 stacks views for the
memoryless MLP baseline. Needs `pip install drlrun[minigrid]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.envs.wrappers import FrameStack
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

# MiniGrid's encoding sizes: OBJECT_TO_IDX (11), COLOR_TO_IDX (6), door states (3)
OBJECTS, COLOURS, STATES = 11, 6, 3


class OneHotView(gym.ObservationWrapper):
    """The egocentric image as uint8 one-hot channels (view, view, 20); `success` in the info
    of the last step (1 when the episode ends with a positive reward)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        h, w, _ = env.observation_space["image"].shape
        self.observation_space = gym.spaces.Box(0, 1, (h, w, OBJECTS + COLOURS + STATES), np.uint8)
        self._eye = np.eye(OBJECTS + COLOURS + STATES, dtype=np.uint8)

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        image = observation["image"]
        idx = np.stack([image[..., 0], OBJECTS + image[..., 1], OBJECTS + COLOURS + image[..., 2]])
        return self._eye[idx].sum(0, dtype=np.uint8)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or truncated:
            info["success"] = float(terminated and reward > 0)
        return obs, reward, terminated, truncated, info


class FewerActions(gym.ActionWrapper):
    """Only MiniGrid's first `n` actions (3: turn left, turn right, forward: all Memory needs)."""

    def __init__(self, env: gym.Env, n: int):
        super().__init__(env)
        self.action_space = gym.spaces.Discrete(n)

    def action(self, action: Any) -> int:
        return int(action)


@dataclass
class MemoryEnvParams:
    size: int = 7  # MiniGrid-MemoryS7; 9, 11, 13 ... (odd)
    random_length: bool = False
    max_steps: int | None = None  # None: MiniGrid's 5 * size^2
    actions: int = 3
    frame_stack: int = 1
    num_envs: int = 1


def _make(p: MemoryEnvParams, render: bool) -> gym.Env:
    try:
        from minigrid.envs import MemoryEnv
    except ImportError:
        raise DrlrunError("env=memory needs MiniGrid: pip install drlrun[minigrid]") from None
    env: gym.Env = MemoryEnv(
        size=p.size,
        random_length=p.random_length,
        max_steps=p.max_steps,
        render_mode="rgb_array" if render else None,
    )
    env = FewerActions(OneHotView(env), p.actions)
    return FrameStack(env, p.frame_stack) if p.frame_stack > 1 else env


@register("env", "memory")
def build_memory(cfg: DictConfig) -> EnvFactory:
    p = from_cfg(MemoryEnvParams, cfg, "env")
    if p.size < 7 or p.size % 2 == 0:
        raise DrlrunError(f"env.size must be odd and >= 7, got {p.size}")
    if not 3 <= p.actions <= 7 or p.frame_stack < 1 or p.num_envs < 1:
        raise DrlrunError("env.actions must be in 3..7, env.frame_stack and env.num_envs >= 1")
    return EnvFactory(
        cfg.name,
        lambda eval_mode, render: _make(p, render),
        "grid",
        p.num_envs,
        frame_stack=p.frame_stack,
        info_keys=("success",),
    )
