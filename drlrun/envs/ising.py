"""Ising grids as multi-agent games (book ch. 9): every spin is an agent choosing down (0) or up (1).

`ising1d` is a ring of N spins whose reward counts matches with the 2 neighbours (book:
2*(-1 + 0.9*matches) = -2.0 / -0.2 / +1.6); `ising2d` is an L x L torus (the book's "sphere")
whose reward is tanh(5*(mean_field[a] - 0.5)) over the 8 Moore neighbours (+-0.8483 for a
0.75 / 0.25 neighbourhood). Everything is numpy over the whole grid (np.roll), so a 100 x 100
grid of 10,000 agents steps in about a millisecond. The state persists across steps (the book's
epochs); `episode_steps` optionally restarts from a fresh random grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from drlrun.envs.base import provides
from drlrun.envs.multiagent import (
    MultiAgentEnvFactory,
    ParallelBase,
    TeamStep,
    joint_action_index,
    one_hot,
)
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

MOORE = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


@dataclass
class IsingParams:
    dims: int = 2
    size: int = 10  # ring length (1D) or side L of the L x L torus (2D)
    # Boltzmann temperature of every spin's policy; null: the algorithm's own `temperature`
    # (a sweep over env.temperature locates the order/disorder transition)
    temperature: float | None = None
    # whose spins a reward compares against: "old" = the neighbours' spins the agent saw (book
    # 1D, rewards from the old grid), "new" = the neighbours' simultaneous actions (book 2D)
    reward_neighbours: Literal["old", "new"] = "new"
    episode_steps: int | None = None  # null: one grid for the whole run, as the book trains

    def __post_init__(self) -> None:
        if self.dims not in (1, 2):
            raise ValueError("dims must be 1 or 2")
        if self.size < 3:
            raise ValueError("size must be >= 3")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.episode_steps is not None and self.episode_steps < 1:
            raise ValueError("episode_steps must be >= 1 or null")


def reward_1d(actions: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Book Listing 9.5: r = -1 + 0.9 per matching neighbour, times 2."""
    matches = (left == actions).astype(np.float32) + (right == actions).astype(np.float32)
    return 2.0 * (-1.0 + 0.9 * matches)


def reward_2d(actions: np.ndarray, mean_field: np.ndarray) -> np.ndarray:
    """Book Listing 9.10: tanh(5 * (mean_field[a] - 0.5)), i.e. (a.(mf - a/2)).sum()/a.sum()."""
    share = np.take_along_axis(mean_field, actions[:, None].astype(np.int64), axis=1)[:, 0]
    return np.tanh(5.0 * (share - 0.5)).astype(np.float32)


def magnetization(spins: np.ndarray) -> float:
    """|mean spin| with spins mapped to -1/+1: 1.0 when all are aligned, ~0 when random."""
    return float(abs((2.0 * spins.astype(np.float32) - 1.0).mean()))


class IsingGrid:
    """The batched face (`TeamEnv`) of an Ising grid: one team, one row per spin (row-major)."""

    teams = ("spins",)
    n_actions = 2
    obs_dim = 2  # the agent's own spin, one-hot (the book's Q ignores it: algo use_obs=false)

    def __init__(self, p: IsingParams):
        self.p = p
        self.shape = (p.size,) if p.dims == 1 else (p.size, p.size)
        self.n = int(np.prod(self.shape))
        self.offsets = [(-1,), (1,)] if p.dims == 1 else MOORE
        self.n_neighbours = len(self.offsets)
        self.temperature = p.temperature
        self.grid = np.zeros(self.shape, dtype=np.int64)
        self.rng = np.random.default_rng(0)
        self.t = 0

    # --- neighbourhoods ---------------------------------------------------------------------
    def neighbours(self, values: np.ndarray) -> np.ndarray:
        """(n, k, ...) values of each cell's k neighbours (torus wrap), in `offsets` order."""
        grid = values.reshape(*self.shape, *values.shape[1:])
        axes = tuple(range(len(self.shape)))
        out = [np.roll(grid, tuple(-d for d in off), axis=axes) for off in self.offsets]
        return np.stack(out, axis=len(self.shape)).reshape(
            self.n, len(self.offsets), *values.shape[1:]
        )

    def mean_field(self, team: int, actions: np.ndarray) -> np.ndarray:
        """(n, 2) mean of the neighbours' one-hot actions (book `mean_action`)."""
        up = self.neighbours(np.asarray(actions, dtype=np.float32)).mean(axis=1)
        return np.stack([1.0 - up, up], axis=1).astype(np.float32)

    def joint_index(self, team: int, actions: np.ndarray) -> np.ndarray:
        """Index of the flattened outer product of the neighbours' one-hot actions (1D: 4)."""
        return joint_action_index(self.neighbours(actions), 2)

    # --- game ---------------------------------------------------------------------------------
    def spins(self) -> np.ndarray:
        return self.grid.reshape(-1).copy()

    def _obs(self) -> np.ndarray:
        return one_hot(self.grid.reshape(-1), 2)

    def reset(self, seed: int) -> list[np.ndarray]:
        """A fresh random grid (about half up, as the book's `randn > 0`)."""
        self.rng = np.random.default_rng(seed)
        self.grid = self.rng.integers(0, 2, size=self.shape, dtype=np.int64)
        self.t = 0
        return [self._obs()]

    def initial_actions(self, team: int, rng: np.random.Generator) -> np.ndarray:
        """Refinement starts from the current spins (the book copies the grid)."""
        return self.spins()

    def rewards(self, actions: np.ndarray, old: np.ndarray) -> np.ndarray:
        basis = old if self.p.reward_neighbours == "old" else actions
        if self.p.dims == 1:
            nb = self.neighbours(basis)
            return reward_1d(actions, nb[:, 0], nb[:, 1]).astype(np.float32)
        return reward_2d(actions, self.mean_field(0, basis))

    def step(self, actions: list[np.ndarray]) -> tuple[list[TeamStep], bool, dict[str, float]]:
        """All spins flip to their actions at once (the book's synchronous grid update)."""
        act = np.asarray(actions[0], dtype=np.int64).reshape(-1)
        old = self.spins()
        reward = self.rewards(act, old)
        self.grid = act.reshape(self.shape).copy()
        self.t += 1
        over = self.p.episode_steps is not None and self.t >= self.p.episode_steps
        step = TeamStep(
            obs=self._obs(),
            reward=reward,
            done=np.zeros(self.n, dtype=bool),  # spins never die; episode ends are truncations
            mf_next=self.mean_field(0, act),
            alive=np.ones(self.n, dtype=bool),
        )
        return [step], over, {"magnetization": magnetization(act)}

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly (the grid, its clock and generator)."""
        return {"grid": self.grid.copy(), "t": self.t, "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self.grid = np.asarray(state["grid"], dtype=np.int64).reshape(self.shape).copy()
        self.t = int(state["t"])
        self.rng.bit_generator.state = state["rng"]

    def image(self) -> np.ndarray:
        """The grid as a 2-D array (1D rings as one row), for plots and video frames."""
        return self.grid.reshape(1, -1) if self.grid.ndim == 1 else self.grid.copy()

    def render(self) -> np.ndarray:
        """An RGB frame (up = yellow, down = purple), 8 px per spin."""
        img = self.image().astype(bool)
        rgb = np.where(img[..., None], [253, 231, 37], [68, 1, 84]).astype(np.uint8)
        return np.repeat(np.repeat(rgb, 8, axis=0), 8, axis=1)

    def close(self) -> None:
        """Nothing to release."""


class IsingParallelEnv(ParallelBase):
    """The PettingZoo Parallel API over an `IsingGrid`: agent `spin_i` observes its own spin and
    its neighbours' mean field (4 floats) and picks 0 (down) or 1 (up)."""

    metadata = {"name": "ising_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, p: IsingParams, render_mode: str | None = None):
        self.core = IsingGrid(p)
        self.render_mode = render_mode
        self.possible_agents = [f"spin_{i}" for i in range(self.core.n)]
        self.agents: list[str] = []
        self._obs_space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
        self._act_space = gym.spaces.Discrete(2)

    def observation_space(self, agent: str) -> gym.spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> gym.spaces.Space:
        return self._act_space

    def _dicts(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        mf = self.core.mean_field(0, self.core.spins())
        full = np.concatenate([obs, mf], axis=1).astype(np.float32)
        return dict(zip(self.possible_agents, full, strict=True))

    def reset(self, seed: int | None = None, options: dict | None = None):
        seed = int(np.random.SeedSequence().entropy % 2**31) if seed is None else seed
        (obs,) = self.core.reset(seed)
        self.agents = self.possible_agents[:]
        return self._dicts(obs), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        act = np.array([int(actions[a]) for a in self.possible_agents], dtype=np.int64)
        (step,), over, info = self.core.step([act])
        names = self.possible_agents
        rewards = {a: float(r) for a, r in zip(names, step.reward, strict=True)}
        terms = dict.fromkeys(names, False)
        truncs = dict.fromkeys(names, over)
        infos = {a: dict(info) for a in names}
        obs = self._dicts(step.obs)
        if over:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def render(self) -> np.ndarray:
        return self.core.render()

    def state(self) -> np.ndarray:
        return self.core.image()

    def close(self) -> None:
        self.core.close()


def _factory(cfg: Any, dims: int) -> MultiAgentEnvFactory:
    p = from_cfg(IsingParams, cfg, "env")
    if p.dims != dims:
        raise DrlrunError(f"env={cfg.name} is {dims}-D; dims={p.dims} does not fit")
    return MultiAgentEnvFactory(
        name=str(cfg.name),
        make=lambda eval_mode, render: IsingGrid(p),
        make_parallel=lambda: IsingParallelEnv(p),
        info={"family": "ising", "dims": dims},
    )


@register("env", "ising1d")
@provides("teams")
def build_ising1d(cfg: Any) -> MultiAgentEnvFactory:
    return _factory(cfg, 1)


@register("env", "ising2d")
@provides("teams")
def build_ising2d(cfg: Any) -> MultiAgentEnvFactory:
    return _factory(cfg, 2)
