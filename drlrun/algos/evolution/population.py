"""Fitness of many flat policy vectors at once: batched rollouts through `torch.func.vmap`.

Every rollout (individual k, episode e) resets its env with `episode_seeds[e]` and draws its
action noise from its own generator seeded with `action_seeds[k, e]`, so a rollout's result
does not depend on which other rollouts share its batch (or its worker process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from drlrun.algos.base import EvalEnvs, Recorder, run_episodes
from drlrun.envs.base import EnvFactory
from drlrun.envs.vector import SyncVecEnv
from drlrun.nets.flat import FlatParams
from drlrun.nets.mlp import MLP
from drlrun.nets.policy import ActionMap, PolicyNet

BatchedForward = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


def vmap_forward(policy: nn.Module) -> BatchedForward:
    """Any module: (params with a leading batch dim, obs (B, 1, ...)) -> (B, 1, out)."""

    def single(params: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        return functional_call(policy, params, (obs,))

    return vmap(single)


def linear_stack_forward(policy: PolicyNet) -> BatchedForward | None:
    """A fast path for the MLP torso (Linear + elementwise activation, no layer norm): one
    batched matmul per layer instead of vmap, whose per-call overhead (~0.3 ms) dominates small
    nets. Returns None for any other torso, which then goes through `vmap_forward`."""
    torso = policy.torso
    if not isinstance(torso, MLP) or torso.norms is not None or policy.out.bias is None:
        return None
    names = [f"torso.linears.{i}" for i in range(len(torso.linears))]
    act, prepare = torso.act, torso.prepare

    def forward(params: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        h = prepare(obs.flatten(2))
        for name in names:
            w, b = params[f"{name}.weight"], params[f"{name}.bias"]
            h = act(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        return torch.baddbmm(
            params["out.bias"].unsqueeze(1), h, params["out.weight"].transpose(1, 2)
        )

    return forward


@dataclass
class Fitness:
    """Mean episode return per individual, and the env steps the evaluation took."""

    returns: np.ndarray
    steps: int


class PopulationEvaluator:
    """Plays episodes for a population of parameter vectors of one `PolicyNet`.

    Up to `max_rollouts` episodes run side by side (one env each); each time step does one
    batched forward pass for the episodes still running."""

    def __init__(
        self,
        env_factory: EnvFactory,
        policy: PolicyNet,
        actions: ActionMap,
        max_rollouts: int = 256,
    ):
        self.env_factory, self.policy, self.actions = env_factory, policy, actions
        self.flat = FlatParams(policy)
        self.max_rollouts = max(1, max_rollouts)
        self.envs: list[gym.Env] = []

        self._batched = linear_stack_forward(policy) or vmap_forward(policy)

    def _env(self, i: int) -> gym.Env:
        while len(self.envs) <= i:
            self.envs.append(self.env_factory.make_env(False, False))
        return self.envs[i]

    @torch.inference_mode()
    def evaluate(
        self, vectors: np.ndarray, episode_seeds: Sequence[int], action_seeds: np.ndarray
    ) -> Fitness:
        """Mean return over `len(episode_seeds)` episodes for each row of `vectors` (K, size)."""
        k, e = len(vectors), len(episode_seeds)
        if action_seeds.shape != (k, e):
            raise ValueError(f"action_seeds must have shape {(k, e)}, got {action_seeds.shape}")
        jobs = [(i, j) for i in range(k) for j in range(e)]
        totals = np.zeros((k, e), dtype=np.float64)
        steps = 0
        for start in range(0, len(jobs), self.max_rollouts):
            wave = jobs[start : start + self.max_rollouts]
            returns, n = self._run_wave(vectors, wave, episode_seeds, action_seeds)
            for (i, j), ret in zip(wave, returns, strict=True):
                totals[i, j] = ret
            steps += n
        return Fitness(totals.mean(axis=1), steps)

    def _run_wave(self, vectors, wave, episode_seeds, action_seeds) -> tuple[np.ndarray, int]:
        n = len(wave)
        envs = [self._env(r) for r in range(n)]
        obs = [envs[r].reset(seed=int(episode_seeds[j]))[0] for r, (_, j) in enumerate(wave)]
        rngs = (
            [np.random.default_rng(int(action_seeds[i, j])) for i, j in wave]
            if self.actions.stochastic
            else None
        )
        returns = np.zeros(n, dtype=np.float64)
        active = list(range(n))
        rows = torch.as_tensor(np.stack([vectors[i] for i, _ in wave]), dtype=torch.float32)
        params = self.flat.as_dict(rows)
        in_batch = list(active)  # rollouts whose parameters `params` holds, in order
        steps = 0
        while active:
            if len(active) * 2 <= len(in_batch):  # compact: stop computing finished rollouts
                params = self.flat.as_dict(rows[active])
                in_batch = list(active)
            position = {r: p for p, r in enumerate(in_batch)}
            batch_obs = np.zeros((len(in_batch), 1, *np.shape(obs[0])), dtype=np.float32)
            for r in active:
                batch_obs[position[r], 0] = obs[r]
            out = self._batched(params, torch.from_numpy(batch_obs))[:, 0].numpy()
            out = out[[position[r] for r in active]]
            uniforms = np.array([rngs[r].random() for r in active]) if rngs is not None else None
            acts = self.actions(out, uniforms)
            still = []
            for r, a in zip(active, acts, strict=True):
                o, reward, term, trunc, _ = envs[r].step(a)
                returns[r] += float(reward)
                steps += 1
                obs[r] = o
                if not (term or trunc):
                    still.append(r)
            active = still
        return returns, steps

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


@torch.inference_mode()
def play_vector(
    env: SyncVecEnv,
    flat: FlatParams,
    actions: ActionMap,
    vector: np.ndarray,
    episodes: int,
    seed: int,
    recorder: Recorder | None = None,
) -> dict[str, float]:
    """Load `vector` into the policy and play `episodes` evaluation episodes with its rule."""
    flat.set(vector)
    policy = flat.module

    def act(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        return actions(out, rng.random(len(obs)) if actions.stochastic else None)

    return run_episodes(env, act, max(1, episodes), seed, recorder)


class VectorPlayer:
    """Evaluates flat policy vectors (ES's parent, GA's elite) on the eval env, or on a fresh
    render-capable one when recording a video."""

    def __init__(self, env_factory: EnvFactory, flat: FlatParams, actions: ActionMap):
        self.flat, self.actions = flat, actions
        self.envs = EvalEnvs(env_factory)

    def play(
        self, vector: np.ndarray, episodes: int, seed: int, recorder: Recorder | None = None
    ) -> dict[str, float]:
        with self.envs.open(render=recorder is not None) as env:
            return play_vector(env, self.flat, self.actions, vector, episodes, seed, recorder)

    def close(self) -> None:
        self.envs.close()
