"""What an env builder returns: a factory for training vector envs and evaluation envs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import gymnasium as gym
import numpy as np

from drlrun.envs.vector import SyncVecEnv

# What an env builder builds: an env to act in, a team env (PettingZoo-style, multi-agent), a
# labelled dataset (ch. 10 MNIST) or a fitness target (ch. 6 strings). Algorithms declare the
# kinds they learn from (algos/accepts.py), so a mismatch is refused before anything is built.
TaskKind = Literal["env", "teams", "dataset", "fitness"]
F = TypeVar("F", bound=Callable[..., Any])


def provides(kind: TaskKind) -> Callable[[F], F]:
    """Decorator for an env builder: the kind of task it builds (default: `env`)."""

    def mark(builder: F) -> F:
        builder.provides = kind  # type: ignore[attr-defined]
        return builder

    return mark


@dataclass
class EnvFactory:
    """Builds identical envs for training (vectorised) and evaluation.

    `make_env(eval_mode, render)` returns one gymnasium env (render: rgb_array frames). `kind` tells nets what the observation is
    ("vector", "ram", "image"); `obs_scale` divides raw observations (255 for bytes);
    `frame_stack` > 1 means observations are stacks of frames along axis 0, which replay
    stores once per step; `frame_skip` is the number of emulator frames per agent step.
    """

    name: str
    make_env: Callable[[bool, bool], gym.Env]
    kind: str
    num_envs: int = 1
    obs_scale: float = 1.0
    frame_stack: int = 1
    frame_skip: int = 1
    info_keys: Sequence[str] = field(default_factory=tuple)
    # symbolic grids (MiniGrid): category count per channel, so nets can one-hot the codes
    categorical_levels: tuple[int, ...] = ()
    # another vector backend for the training envs (env.backend=envpool); None: SyncVecEnv
    vec_maker: Callable[[], Any] | None = None
    _probe: gym.Env | None = field(default=None, repr=False)

    def _spaces(self) -> gym.Env:
        if self._probe is None:
            self._probe = self.make_env(False, False)
        return self._probe

    @property
    def observation_space(self) -> gym.spaces.Space:
        return self._spaces().observation_space

    @property
    def action_space(self) -> gym.spaces.Space:
        return self._spaces().action_space

    def make_vec(self) -> SyncVecEnv:
        if self.vec_maker is not None:
            return self.vec_maker()
        return SyncVecEnv([lambda: self.make_env(False, False)] * self.num_envs, self.info_keys)

    def make_eval(self, render: bool = False) -> SyncVecEnv:
        return SyncVecEnv([lambda: self.make_env(True, render)], self.info_keys)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


def obs_dtype(space: gym.spaces.Space) -> np.dtype:
    return np.dtype(getattr(space, "dtype", np.float32) or np.float32)
