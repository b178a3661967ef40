"""Gymnasium's classic-control (and any registered vector-observation) environments."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class GymParams:
    id: str = "CartPole-v1"
    num_envs: int = 1
    max_episode_steps: int | None = None


def _make(params: GymParams, eval_mode: bool, render: bool) -> gym.Env:
    try:
        return gym.make(
            params.id,
            max_episode_steps=params.max_episode_steps,
            render_mode="rgb_array" if render else None,
        )
    except gym.error.Error as err:
        raise DrlrunError(f"env.id={params.id!r} cannot be made: {err}") from None


@register("env", "gym")
def build_gym(cfg: DictConfig) -> EnvFactory:
    """Any gymnasium id with a flat Box observation (`env=gym env.id=Acrobot-v1`)."""
    params = from_cfg(GymParams, cfg, "env")
    if params.num_envs < 1:
        raise DrlrunError("env.num_envs must be >= 1")
    return EnvFactory(
        cfg.name,
        lambda eval_mode, render: _make(params, eval_mode, render),
        "vector",
        params.num_envs,
    )


register("env", "cartpole")(build_gym)
