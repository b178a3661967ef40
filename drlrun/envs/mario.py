"""env=mario: Super Mario Bros with the book's preprocessing (chapter 8) or the 84x84/4 variant.

Book (`stack: emulator`): every emulator frame is resized to 42x42 (area interpolation, i.e.
anti-aliased), grayed as the max over RGB, and the observation is the last 3 such frames; an
action is repeated 6 times in training and once in evaluation, rewards summed over repeats.
Variant (`stack: agent`, env=mario84): the max of the last two emulator frames of each agent
step, 84x84, stacked over 4 agent steps (replay stores each frame once).
The "stuck" check ends an episode that gained fewer than `stuck_min_progress` x_pos pixels in
the last `stuck_steps` agent steps (`stuck: progress`); `stuck: book` reproduces the book's bug
(its reference x_pos is overwritten every step, so every episode ends at step stuck_steps + 1).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import gymnasium as gym
import numpy as np
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.envs.mario_compat import MarioEnv
from drlrun.envs.wrappers import FrameStack
from drlrun.params import from_cfg
from drlrun.registry import register

INFO_KEYS = ("x_pos", "max_x_pos", "flag_get", "world", "stage")


@dataclass
class MarioParams:
    actions: Literal["simple", "complex", "right_only"] = "complex"
    world: int | None = None  # null with stage null: the full game from 1-1 (SuperMarioBros-v0)
    stage: int | None = None
    rom_mode: Literal["vanilla", "downsample", "pixel", "rectangle"] = "vanilla"
    num_envs: int = 1
    screen_size: int = 42
    gray: Literal["max", "luminance"] = "max"
    action_repeat: int = 6
    eval_action_repeat: int = 1
    frame_stack: int = 3
    stack: Literal["emulator", "agent"] = "emulator"
    stuck: Literal["off", "progress", "book"] = "progress"
    stuck_steps: int = 100
    stuck_min_progress: int = 15
    max_episode_steps: int | None = None  # agent steps (truncation); null: none

    def __post_init__(self) -> None:
        for key in ("num_envs", "screen_size", "action_repeat", "eval_action_repeat"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.frame_stack < 1 or self.stuck_steps < 1:
            raise ValueError("frame_stack and stuck_steps must be >= 1")


def downscale(frame: np.ndarray, size: int, gray: str) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> (size, size) uint8: area-resized, then gray (max or luminance)."""
    small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    if gray == "max":
        return small.max(axis=2)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


class MarioPreprocess(gym.Wrapper):
    """Action repeat, downscaling, the book's in-repeat frame stack, stuck check, x_pos extras."""

    def __init__(self, env: gym.Env, p: MarioParams, repeat: int):
        super().__init__(env)
        self.p, self.repeat = p, repeat
        self.k = p.frame_stack if p.stack == "emulator" else 1
        shape = (self.k, p.screen_size, p.screen_size) if p.stack == "emulator" else None
        shape = shape or (p.screen_size, p.screen_size)
        self.observation_space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)
        self.frames: collections.deque[np.ndarray] = collections.deque(maxlen=self.k)
        self.x_history: collections.deque[int] = collections.deque(maxlen=p.stuck_steps + 1)
        self.steps = 0
        self.max_x = 0

    def _frame(self, rgb: np.ndarray) -> np.ndarray:
        return downscale(rgb, self.p.screen_size, self.p.gray)

    def _obs(self) -> np.ndarray:
        return np.stack(self.frames) if self.p.stack == "emulator" else self.frames[-1].copy()

    def reset(self, **kwargs: Any):
        rgb, info = self.env.reset(**kwargs)
        frame = self._frame(rgb)
        self.frames.clear()
        self.frames.extend([frame] * self.k)
        self.steps, self.max_x = 0, int(info["x_pos"])
        self.x_history.clear()
        self.x_history.append(self.max_x)
        return self._obs(), self._extras(info)

    def step(self, action: Any):
        total, terminated, truncated, info = 0.0, False, False, {}
        last_two: list[np.ndarray] = []
        for _ in range(self.repeat):
            rgb, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            if self.p.stack == "emulator":
                self.frames.append(self._frame(rgb))
            else:
                last_two = [*last_two[-1:], rgb]
            if terminated or truncated:
                break
        if self.p.stack == "agent":
            self.frames.append(self._frame(np.maximum.reduce(last_two)))
        self.steps += 1
        x = int(info["x_pos"])
        self.max_x = max(self.max_x, x)
        self.x_history.append(x)
        if not terminated and self._stuck():
            truncated = True
        limit = self.p.max_episode_steps
        if limit is not None and self.steps >= limit:
            truncated = True
        return self._obs(), total, terminated, truncated, self._extras(info)

    def _stuck(self) -> bool:
        p = self.p
        if p.stuck == "off" or self.steps <= p.stuck_steps:
            return False
        if p.stuck == "book":  # last_x_pos is overwritten inside the repeat loop: always stuck
            return True
        return self.x_history[-1] - self.x_history[0] < p.stuck_min_progress

    def _extras(self, info: dict[str, Any]) -> dict[str, Any]:
        out = dict(info)
        out["max_x_pos"] = self.max_x
        out["flag_get"] = float(bool(info.get("flag_get", False)))
        return out

    def get_state(self) -> dict[str, Any]:
        return {
            "frames": [f.copy() for f in self.frames],
            "x_history": list(self.x_history),
            "steps": self.steps,
            "max_x": self.max_x,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.frames.clear()
        self.frames.extend(np.asarray(f) for f in state["frames"])
        self.x_history.clear()
        self.x_history.extend(int(x) for x in state["x_history"])
        self.steps, self.max_x = int(state["steps"]), int(state["max_x"])


def make_mario(p: MarioParams, eval_mode: bool, render: bool = False) -> gym.Env:
    """One preprocessed Mario env (render() always gives the raw RGB frame)."""
    env: gym.Env = MarioEnv(p.actions, p.world, p.stage, p.rom_mode)
    env = MarioPreprocess(env, p, p.eval_action_repeat if eval_mode else p.action_repeat)
    if p.stack == "agent" and p.frame_stack > 1:
        env = FrameStack(env, p.frame_stack)
    return env


@register("env", "mario")
def build_mario(cfg: DictConfig) -> EnvFactory:
    p = from_cfg(MarioParams, cfg, "env")
    make_mario(p, eval_mode=True).close()  # fail early (missing package, bad level)
    return EnvFactory(
        name=cfg.name,
        make_env=lambda eval_mode, render: make_mario(p, eval_mode, render),
        kind="image",
        num_envs=p.num_envs,
        obs_scale=255.0,
        frame_stack=p.frame_stack if p.stack == "agent" else 1,
        frame_skip=p.action_repeat,
        info_keys=INFO_KEYS,
    )


register("env", "mario84")(build_mario)
