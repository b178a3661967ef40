"""Atari through ale-py: RAM (128 bytes) or pixels (84x84 grayscale, frame skip 4, stack 4).

Sticky actions (repeat probability 0.25) and the 108,000-frame episode cap follow the ALE v5
defaults (Machado et al. 2018). In ale-py 0.12 `ALE/<Game>-ram-v5` is gone: RAM observations
come from `ALE/<Game>-v5` with `obs_type="ram"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
from omegaconf import DictConfig

from drlrun.envs.base import EnvFactory
from drlrun.envs.envpool_vec import EnvPoolVecEnv
from drlrun.envs.wrappers import FrameStack
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class AtariParams:
    game: str = "Freeway"
    obs_type: Literal["ram", "pixels"] = "pixels"
    num_envs: int = 1
    frame_skip: int = 4
    frame_stack: int = 4
    screen_size: int = 84
    noop_max: int = 30
    repeat_action_probability: float = 0.25
    max_episode_frames: int = 108_000
    full_action_space: bool = False
    terminal_on_life_loss: bool = False
    backend: Literal["gymnasium", "envpool"] = "gymnasium"  # training envs (eval: gymnasium)

    def __post_init__(self) -> None:
        if self.backend == "envpool" and self.obs_type != "pixels":
            raise ValueError("env.backend=envpool runs pixel observations only (obs_type=pixels)")


def _register_ale() -> None:
    try:
        import ale_py
    except ImportError as err:  # pragma: no cover - ale-py is a core dependency
        raise DrlrunError("Atari envs need ale-py: pip install ale-py") from err
    gym.register_envs(ale_py)


def make_atari(p: AtariParams, eval_mode: bool, render: bool = False) -> gym.Env:
    """One Atari env with the standard preprocessing for `p.obs_type`."""
    _register_ale()
    env_id = f"ALE/{p.game}-v5"
    common = dict(
        repeat_action_probability=p.repeat_action_probability,
        full_action_space=p.full_action_space,
        max_num_frames_per_episode=p.max_episode_frames,
        render_mode="rgb_array" if render else None,
    )
    try:
        if p.obs_type == "ram":
            return gym.make(env_id, obs_type="ram", frameskip=p.frame_skip, **common)
        env = gym.make(env_id, obs_type="rgb", frameskip=1, **common)
    except gym.error.Error as err:
        raise DrlrunError(f"Atari game {p.game!r} is not available in ale-py: {err}") from None
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=p.noop_max,
        frame_skip=p.frame_skip,
        screen_size=p.screen_size,
        terminal_on_life_loss=p.terminal_on_life_loss,
        grayscale_obs=True,
        scale_obs=False,
    )
    return FrameStack(env, p.frame_stack) if p.frame_stack > 1 else env


@register("env", "atari")
def build_atari(cfg: DictConfig) -> EnvFactory:
    p = from_cfg(AtariParams, cfg, "env")
    if p.num_envs < 1 or p.frame_skip < 1 or p.frame_stack < 1:
        raise DrlrunError("env.num_envs, env.frame_skip and env.frame_stack must be >= 1")
    pixels = p.obs_type == "pixels"
    return EnvFactory(
        name=cfg.name,
        make_env=lambda eval_mode, render: make_atari(p, eval_mode, render),
        kind="image" if pixels else "ram",
        num_envs=p.num_envs,
        obs_scale=255.0,
        frame_stack=p.frame_stack if pixels else 1,
        frame_skip=p.frame_skip,
        vec_maker=(lambda: EnvPoolVecEnv(p)) if p.backend == "envpool" else None,
    )


register("env", "freeway")(build_atari)
register("env", "freeway_ram")(build_atari)
