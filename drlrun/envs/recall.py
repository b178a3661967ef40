"""A tiny recall task: a cue bit is shown, `delay` blank steps follow, then the agent must name it.

Memoryless agents are capped at 50% success; a recurrent or memory torso solves it. Small
enough for CI-sized learning tests of sequence models (the MiniGrid Memory task in miniature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register


class RecallEnv(gym.Env):
    """obs = (cue is 0, cue is 1, blank, answer now); actions 0/1; reward 1 iff the answer is
    the cue. Episodes last delay + 2 steps (non-final actions are ignored)."""

    metadata = {"render_modes": []}

    def __init__(self, delay: int = 3):
        self.delay = delay
        self.observation_space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.cue, self.t = 0, 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(4, dtype=np.float32)
        if self.t == 0:
            obs[self.cue] = 1.0
        elif self.t <= self.delay:
            obs[2] = 1.0
        else:
            obs[3] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.cue, self.t = int(self.np_random.integers(2)), 0
        return self._obs(), {}

    def step(self, action: Any):
        if self.t > self.delay:
            success = float(int(action) == self.cue)
            return self._obs(), success, True, False, {"success": success}
        self.t += 1
        return self._obs(), 0.0, False, False, {}


@dataclass
class RecallParams:
    delay: int = 3
    num_envs: int = 1


@register("env", "recall")
def build_recall(cfg: DictConfig) -> EnvFactory:
    p = from_cfg(RecallParams, cfg, "env")
    if p.delay < 0 or p.num_envs < 1:
        raise DrlrunError("env.delay must be >= 0 and env.num_envs >= 1")
    return EnvFactory(
        cfg.name,
        lambda eval_mode, render: RecallEnv(p.delay),
        "vector",
        p.num_envs,
        info_keys=("success",),
    )
