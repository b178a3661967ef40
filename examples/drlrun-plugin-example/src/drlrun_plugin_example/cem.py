"""The cross-entropy method over linear policies, registered as drlrun's `algo=cem`.

One train step is one generation: sample `population` weight vectors from a diagonal Gaussian,
play one training episode with each (greedy linear policy), and refit mean and std to the best
`elite_frac` of them. Episodes are seeded from the algorithm's own generator, and a generation
always ends between episodes, so the state below resumes a run exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from drlrun.algos.base import Algorithm, RunContext, TrainResult, run_episodes
from drlrun.envs.base import EnvFactory
from drlrun.envs.vector import Episode, SyncVecEnv
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register
from drlrun.seeding import generator_state, set_generator_state


@dataclass
class CEMParams:
    population: int = 16
    elite_frac: float = 0.25
    init_std: float = 1.0
    extra_std: float = 0.1
    extra_std_decay_generations: int = 10


class LinearPolicy:
    """argmax(obs @ W + b) over discrete actions; `theta` packs W and b."""

    def __init__(self, obs_dim: int, n_actions: int):
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.size = obs_dim * n_actions + n_actions

    def act(self, theta: np.ndarray, obs: np.ndarray) -> np.ndarray:
        w = theta[: self.obs_dim * self.n_actions].reshape(self.obs_dim, self.n_actions)
        logits = obs.reshape(len(obs), -1) @ w + theta[self.obs_dim * self.n_actions :]
        return logits.argmax(axis=1)


class CEM(Algorithm):
    def __init__(self, p: CEMParams, env: EnvFactory, ctx: RunContext):
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise DrlrunError("algo=cem needs a discrete action space (env=cartpole, ...)")
        if env.num_envs != 1:
            raise DrlrunError("algo=cem plays one episode per candidate: set env.num_envs=1")
        if p.population < 2 or not 0.0 < p.elite_frac <= 1.0:
            raise DrlrunError("algo.population must be >= 2 and algo.elite_frac in (0, 1]")
        self.p, self.env_factory = p, env
        obs_dim = int(np.prod(env.observation_space.shape))
        self.policy = LinearPolicy(obs_dim, int(env.action_space.n))
        self.mean = np.zeros(self.policy.size)
        self.std = np.full(self.policy.size, p.init_std)
        self.rng = np.random.default_rng(ctx.seed)
        self.generation = 0
        self.frames = 0
        self.vec: SyncVecEnv = env.make_vec()

    def _episode(self, theta: np.ndarray) -> Episode:
        obs, _ = self.vec.reset(seed=int(self.rng.integers(2**31 - 1)))
        while True:
            step = self.vec.step_all(self.policy.act(theta, obs))
            self.frames += 1
            obs = step.obs
            if step.episodes:
                return step.episodes[0]

    def train_step(self) -> TrainResult:
        p = self.p
        thetas = self.mean + self.std * self.rng.standard_normal((p.population, self.policy.size))
        episodes = [self._episode(theta) for theta in thetas]
        returns = np.array([e.ret for e in episodes])
        n_elite = max(1, int(round(p.population * p.elite_frac)))
        elite = thetas[np.argsort(returns)[-n_elite:]]
        decay = max(0.0, 1.0 - self.generation / max(p.extra_std_decay_generations, 1))
        self.mean = elite.mean(axis=0)
        self.std = elite.std(axis=0) + p.extra_std * decay
        self.generation += 1
        metrics = {
            "population_return_mean": float(returns.mean()),
            "elite_return_mean": float(np.sort(returns)[-n_elite:].mean()),
            "std_mean": float(self.std.mean()),
            "generation": float(self.generation),
        }
        return TrainResult(metrics, episodes)

    def named_tensors(self) -> dict[str, np.ndarray]:
        """What the runner checks is finite before each checkpoint (the search distribution)."""
        return {"mean": self.mean, "std": self.std}

    def evaluate(self, episodes: int, seed: int, epsilon: float = 0.0, recorder=None) -> dict:
        n_actions = self.policy.n_actions

        def act(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            actions = self.policy.act(self.mean, obs)
            explore = rng.random(len(obs)) < epsilon
            return np.where(explore, rng.integers(0, n_actions, size=len(obs)), actions)

        env = self.env_factory.make_eval(render=recorder is not None)
        try:
            return run_episodes(env, act, episodes, seed, recorder)
        finally:
            env.close()

    def state_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean.copy(),
            "std": self.std.copy(),
            "generation": self.generation,
            "frames": self.frames,
            "rng": generator_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if np.shape(state["mean"]) != (self.policy.size,):
            raise ValueError(f"policy size {np.shape(state['mean'])} != {self.policy.size}")
        self.mean, self.std = np.array(state["mean"]), np.array(state["std"])
        self.generation, self.frames = int(state["generation"]), int(state["frames"])
        set_generator_state(self.rng, state["rng"])

    def close(self) -> None:
        self.vec.close()


@register("algo", "cem")
def build_cem(cfg: Any, env: EnvFactory, ctx: RunContext) -> CEM:
    return CEM(from_cfg(CEMParams, cfg, "algo"), env, ctx)
