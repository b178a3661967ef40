"""MiniGrid DoorKey (book ch. 10): the egocentric 7x7 symbolic view, channels first.

Observations are MiniGrid's (object, colour, state) codes as uint8, transposed to (3, X, Y):
the array stays indexed [x][y] like MiniGrid's, so node x * 7 + y of a 1x1-conv relational torso
is view cell (x, y), with the agent at (3, 6). Nets one-hot the codes (`categorical_levels`).
Book options: the 5-action subset (left, right, forward, pickup, toggle), a -0.01 reward for
zero-reward steps, max_steps 400. `curriculum=[5, 6, 8, 16]` moves through grid sizes every
`stage_frames` steps; the network carries over because the view is 7x7 at every size.
Episodes report `success` (the goal was reached before max_steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register

try:
    import minigrid  # noqa: F401  (registers the MiniGrid ids)
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
    from minigrid.wrappers import ImgObsWrapper
except ImportError:  # pragma: no cover - exercised only without the extra
    minigrid = None

BOOK_ACTIONS = (0, 1, 2, 3, 5)  # left, right, forward, pickup, toggle (drop and done unused)


@dataclass
class DoorKeyParams:
    size: int = 5
    id: str | None = None  # any MiniGrid id with the same observation (overrides size)
    num_envs: int = 1
    max_steps: int | None = None  # None: MiniGrid's default, 10 * size^2
    action_subset: bool = True  # the book's 5 useful actions instead of MiniGrid's 7
    step_reward: float = 0.0  # the book: -0.01 on every zero-reward step
    curriculum: list[int] = field(default_factory=list)  # grid sizes, e.g. [5, 6, 8, 16]
    stage_frames: int = 10_000  # env steps per curriculum stage (per env)


def env_id(size: int) -> str:
    return f"MiniGrid-DoorKey-{size}x{size}-v0"


def _make_base(p: DoorKeyParams, size: int, render: bool) -> gym.Env:
    kwargs: dict[str, Any] = {"render_mode": "rgb_array" if render else None}
    if p.max_steps is not None:
        kwargs["max_steps"] = p.max_steps
    try:
        return gym.make(p.id or env_id(size), **kwargs)
    except gym.error.Error as err:
        raise DrlrunError(f"MiniGrid env {p.id or env_id(size)!r} cannot be made: {err}") from None


class SymbolicView(gym.Wrapper):
    """ImgObs (X, Y, 3) -> (3, X, Y) uint8, action subset, step reward, `success` in info."""

    def __init__(self, env: gym.Env, p: DoorKeyParams):
        super().__init__(ImgObsWrapper(env))
        self.p = p
        view = self.env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 255, (view[2], view[0], view[1]), np.uint8)
        self.last_obs: np.ndarray | None = None
        self.actions = BOOK_ACTIONS if p.action_subset else tuple(range(env.action_space.n))
        self.action_space = gym.spaces.Discrete(len(self.actions))

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        self.last_obs = np.ascontiguousarray(obs.transpose(2, 0, 1), dtype=np.uint8)
        return self.last_obs  # kept for the attention video overlay

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self._obs(obs), info

    def step(self, action: int):
        obs, reward, terminated, truncated, info = self.env.step(self.actions[int(action)])
        if terminated or truncated:
            info["success"] = float(terminated and reward > 0)
        if reward == 0:
            reward = self.p.step_reward
        return self._obs(obs), float(reward), terminated, truncated, info

    def get_state(self) -> dict[str, Any]:
        """The MiniGrid world as plain arrays (grid codes, agent, carried object, RNG) for exact
        resume; checkpoints load with weights_only, so no MiniGrid objects are stored."""
        base = self.env.unwrapped
        carried = base.carrying.encode() if base.carrying is not None else ()
        return {
            "grid": base.grid.encode(),
            "agent": np.array([*base.agent_pos, base.agent_dir, base.step_count], np.int64),
            "carrying": np.array(carried, np.int64),
            "rng": base.np_random.bit_generator.state,
            "last_obs": self.last_obs,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        from minigrid.core.grid import Grid
        from minigrid.core.world_object import WorldObj

        base = self.env.unwrapped
        base.grid, _ = Grid.decode(np.asarray(state["grid"], np.uint8))
        x, y, direction, steps = (int(v) for v in state["agent"])
        base.agent_pos, base.agent_dir, base.step_count = (x, y), direction, steps
        carried = [int(v) for v in state["carrying"]]
        base.carrying = WorldObj.decode(*carried) if carried else None
        base.np_random.bit_generator.state = state["rng"]
        self.last_obs = state["last_obs"]


class Curriculum(gym.Wrapper):
    """Switches to the next grid size at the first reset after each `stage_frames` steps."""

    def __init__(self, p: DoorKeyParams, render: bool):
        self.p, self.render_flag = p, render
        self.stage, self.steps = 0, 0
        super().__init__(SymbolicView(_make_base(p, p.curriculum[0], render), p))

    def reset(self, **kwargs: Any):
        stage = min(self.steps // self.p.stage_frames, len(self.p.curriculum) - 1)
        if stage != self.stage:
            self.stage = stage
            self.env.close()
            self.env = SymbolicView(
                _make_base(self.p, self.p.curriculum[stage], self.render_flag), self.p
            )
        return self.env.reset(**kwargs)

    def step(self, action: int):
        self.steps += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["grid_size"] = float(self.p.curriculum[self.stage])
        return obs, reward, terminated, truncated, info


def make_doorkey(p: DoorKeyParams, eval_mode: bool, render: bool = False) -> gym.Env:
    if minigrid is None:
        raise DrlrunError('env=doorkey needs MiniGrid: pip install -e ".[minigrid]"')
    if p.curriculum and not eval_mode:
        return Curriculum(p, render)
    size = p.curriculum[-1] if p.curriculum else p.size
    return SymbolicView(_make_base(p, size, render), p)


@register("env", "doorkey")
def build_doorkey(cfg: DictConfig) -> EnvFactory:
    p = from_cfg(DoorKeyParams, cfg, "env")
    if p.num_envs < 1 or p.size < 5 or p.stage_frames < 1:
        raise DrlrunError("env.num_envs must be >= 1, env.size >= 5, env.stage_frames >= 1")
    if any(s < 5 for s in p.curriculum):
        raise DrlrunError(f"env.curriculum sizes must be >= 5, got {p.curriculum}")
    levels = (len(OBJECT_TO_IDX), len(COLOR_TO_IDX), len(STATE_TO_IDX)) if minigrid else ()
    return EnvFactory(
        name=cfg.name,
        make_env=lambda eval_mode, render: make_doorkey(p, eval_mode, render),
        kind="image",
        num_envs=p.num_envs,
        info_keys=("success", "grid_size"),
        categorical_levels=levels,
    )
