"""Atari training envs on EnvPool (`env.backend=envpool`): ALE stepped in C++ threads, the same
preprocessing as the gymnasium path (grayscale, max-pool of the last two frames, resize, frame
stack, sticky actions, no-op starts), episodic life and reward clipping off to match it.

It presents drlrun's vector-env face (`reset`, `step_all` -> VecStep with same-step autoreset and
`final_obs`, episode statistics). EnvPool resets a finished env on the *next* step; here a
finished env is reset at once through `reset(env_ids)`, so the next action is chosen from its
first observation as on the gymnasium path. Opt-in: EnvPool cannot save its emulators, so a
resumed run restarts the training episodes in progress (`exact_resume` is False; the learner
says so on resume), and its frames differ from ale-py's by at most one grey level (resize
rounding; tests/test_envpool.py)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from drlrun.envs.vector import Episode, VecStep
from drlrun.errors import DrlrunError


def import_envpool() -> Any:
    try:
        import envpool
    except ImportError as err:
        raise DrlrunError(
            "env.backend=envpool needs EnvPool: pip install envpool==1.2.5 (or env.backend=gymnasium)"
        ) from err
    return envpool


class EnvPoolVecEnv:
    """`num_envs` EnvPool Atari envs with drlrun's same-step autoreset."""

    exact_resume = False  # EnvPool has no emulator snapshots

    def __init__(self, p: Any):  # p: envs.atari.AtariParams
        self.p = p
        self.num_envs = p.num_envs
        self.pool: Any = None
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        probe = self._make(seed=0, num_envs=1)
        self.single_observation_space = gym.spaces.Box(
            0, 255, tuple(probe.observation_space.shape), dtype=np.uint8
        )
        self.single_action_space = gym.spaces.Discrete(int(probe.action_space.n))
        probe.close()

    def _make(self, seed: int, num_envs: int) -> Any:
        p = self.p
        envpool = import_envpool()
        return envpool.make(
            f"{p.game}-v5",
            env_type="gymnasium",
            num_envs=num_envs,
            batch_size=num_envs,
            seed=seed,
            num_threads=num_envs,
            frame_skip=p.frame_skip,
            stack_num=p.frame_stack,
            img_height=p.screen_size,
            img_width=p.screen_size,
            gray_scale=True,
            noop_max=max(1, p.noop_max),  # EnvPool: 1 means no no-op start
            repeat_action_probability=p.repeat_action_probability,
            max_episode_steps=p.max_episode_frames // p.frame_skip,
            full_action_space=p.full_action_space,
            episodic_life=p.terminal_on_life_loss,
            reward_clip=False,
            use_fire_reset=False,
            zero_discount_on_life_loss=False,
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.pool is not None:
            self.pool.close()
        self.pool = self._make(seed=0 if seed is None else seed, num_envs=self.num_envs)
        obs, _ = self.pool.reset()
        self._returns[:] = 0
        self._lengths[:] = 0
        return obs, {}

    def step_all(self, actions: np.ndarray) -> VecStep:
        obs, rewards, terminated, truncated, _ = self.pool.step(np.asarray(actions, np.int32))
        rewards = rewards.astype(np.float32)
        terminated, truncated = terminated.astype(bool), truncated.astype(bool)
        self._returns += rewards
        self._lengths += 1
        done = np.flatnonzero(terminated | truncated)
        final_obs: dict[int, np.ndarray] = {}
        episodes: list[Episode] = []
        if len(done):
            obs = obs.copy()
            for i in done:
                final_obs[int(i)] = obs[i].copy()
                episodes.append(Episode(float(self._returns[i]), int(self._lengths[i])))
            first, _ = self.pool.reset(done.astype(np.int32))
            obs[done] = first
            self._returns[done], self._lengths[done] = 0, 0
        return VecStep(obs, rewards, terminated, truncated, final_obs, episodes)

    def get_state(self) -> dict[str, Any]:
        return {"envpool": True}  # nothing exact to keep: see exact_resume

    def set_state(self, state: dict[str, Any]) -> None:
        """Restart the training episodes (EnvPool cannot restore its emulators)."""
        obs, _ = self.pool.reset()
        self._returns[:] = 0
        self._lengths[:] = 0
        self.restarted_obs = obs

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
