"""Acting for the Q learner: the one epsilon-greedy rule, the greedy actors (feedforward, or
stateful for sequence torsos), and evaluation on a separate env.

Training and evaluation act through the same `EpsilonGreedy` and actor classes; evaluation gets
its own actor (fresh torso state per episode) and its own generator, so it never perturbs
training (a resumed run evaluates identically).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from drlrun.algos.base import EvalEnvs, run_episodes
from drlrun.algos.q.losses.base import QLoss
from drlrun.algos.q.losses.kernel import NumpyMLPActor, numpy_actor_supported
from drlrun.envs.vector import SyncVecEnv, VecStep
from drlrun.nets.heads import QNetwork
from drlrun.nets.sequence import SequenceTorso, State
from drlrun.viz.probe import Probe

FAST_ACT_MAX_BATCH = 64  # numpy acting wins for a few observations; torch for large batches
Greedy = Callable[[np.ndarray], np.ndarray]


class EpsilonGreedy:
    """Per env: with probability epsilon a uniform action among the first `n_random` (all by
    default; the book's ch. 8 bug draws from 7 of 12), else the actor's greedy one. The greedy
    forward is skipped when every env explores unless the actor must see every observation.

    `extend_temporally(mu)` turns it into ez-greedy (Dabney et al. 2021, "Temporally-Extended
    epsilon-Greedy Exploration"): an env that explores repeats its random action for
    n ~ Zeta(mu) steps (capped, and cut at the episode's end), so exploration can string
    together what one random step cannot (a held jump over a pit)."""

    def __init__(self, n_actions: int, n_random: int | None = None):
        self.n_random = n_actions if n_random is None else n_random
        self.ez_mu: float | None = None
        self.ez_max = 0
        self.held = np.zeros(0, dtype=np.int64)  # per env: the random action being repeated
        self.left = np.zeros(0, dtype=np.int64)  # per env: steps it still repeats

    def extend_temporally(self, mu: float, max_duration: int) -> None:
        """Switch to ez-greedy with durations Zeta(mu) capped at `max_duration` steps."""
        self.ez_mu, self.ez_max = mu, max_duration

    def for_evaluation(self) -> EpsilonGreedy:
        """The rule evaluation acts by: plain epsilon-greedy over the same actions (training's
        warm-ups and held actions stay out of it, as in Dopamine's and Dabney's evaluation)."""
        return EpsilonGreedy(self.n_random)

    def __call__(
        self, obs: np.ndarray, epsilon: float, rng: np.random.Generator, actor: Any
    ) -> np.ndarray:
        if self.ez_mu is not None:
            return self._extended(obs, epsilon, rng, actor)
        if len(obs) == 1:  # scalar draws: the same random stream without numpy's array set-up
            return self._one(obs, epsilon, rng, actor)
        explore = rng.random(len(obs)) < epsilon
        random_actions = rng.integers(0, self.n_random, size=len(obs))
        if explore.all() and not actor.stateful:
            return random_actions
        return np.where(explore, random_actions, actor.greedy(obs))

    def _one(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator, actor: Any):
        explore = rng.random() < epsilon
        random_action = rng.integers(0, self.n_random)
        if explore and not actor.stateful:
            return np.array([random_action], dtype=np.int64)
        greedy = actor.greedy(obs)
        return np.array([random_action], dtype=np.int64) if explore else greedy

    def _extended(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator, actor: Any):
        """ez-greedy: an env not holding an action starts one with probability epsilon."""
        n = len(obs)
        if len(self.left) != n:
            self.held, self.left = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        start = (self.left == 0) & (rng.random(n) < epsilon)
        if start.any():
            count = int(start.sum())
            assert self.ez_mu is not None
            self.held[start] = rng.integers(0, self.n_random, size=count)
            self.left[start] = np.minimum(rng.zipf(self.ez_mu, size=count), self.ez_max)
        explore = self.left > 0
        self.left[explore] -= 1
        if explore.all() and not actor.stateful:
            return self.held.copy()
        return np.where(explore, self.held, actor.greedy(obs))

    def after_step(self, step: VecStep) -> None:
        """A held action ends with its env's episode."""
        if self.ez_mu is not None and len(self.left):
            self.left[step.terminated | step.truncated] = 0

    def state_dict(self) -> dict[str, Any]:
        if self.ez_mu is None:
            return {}
        return {"ez_held": self.held.copy(), "ez_left": self.left.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.ez_mu is not None and "ez_left" in state:
            self.held = np.asarray(state["ez_held"], dtype=np.int64).copy()
            self.left = np.asarray(state["ez_left"], dtype=np.int64).copy()


class FeedForwardActor:
    """Greedy actions of a feedforward Q-network (numpy over the live weights when exact)."""

    stateful = False

    def __init__(self, online: QNetwork, loss: QLoss, device: torch.device, fast: bool):
        self.online, self.loss, self.device = online, loss, device
        self.numpy: NumpyMLPActor | None = None
        if fast and numpy_actor_supported(online, loss, device):
            self.numpy = NumpyMLPActor(online)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        if self.numpy is not None and len(obs) <= FAST_ACT_MAX_BATCH:
            return self.loss.q_values_numpy(self.numpy.head_outputs(obs)).argmax(axis=1)
        return self._greedy_torch(obs)

    @torch.inference_mode()
    def _greedy_torch(self, obs: np.ndarray) -> np.ndarray:
        q = self.loss.q_values(self.online(torch.as_tensor(obs, device=self.device)))
        return q.argmax(dim=1).cpu().numpy()

    @torch.inference_mode()
    def head_outputs(self, obs: np.ndarray) -> torch.Tensor:
        """The head's raw outputs for `obs` (probes draw distributions from them)."""
        return self.online(torch.as_tensor(obs, device=self.device))

    def after_step(self, step: VecStep) -> None:
        """Nothing to carry between steps."""

    def fresh(self, num_envs: int) -> FeedForwardActor:
        return self

    def begin_episode(self) -> None:
        """Nothing to reset."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Stateless."""


class StatefulActor:
    """Greedy actions of a sequence torso, carrying each env's state (reset at episode ends);
    the network runs on every observation so the state sees them all."""

    stateful = True

    def __init__(self, online: QNetwork, loss: QLoss, device: torch.device, num_envs: int):
        self.online, self.loss, self.device = online, loss, device
        self.torso: SequenceTorso = online.torso
        self.state = self.torso.initial_state(num_envs, device)

    @torch.inference_mode()
    def step_outputs(self, obs: np.ndarray, state: State) -> tuple[torch.Tensor, State]:
        """Head outputs for one observation per env and the advanced state."""
        x = torch.as_tensor(obs, device=self.device).unsqueeze(1)
        features, state = self.torso.forward_seq(x, state)
        return self.online.head(features[:, 0]), state

    def step_q(self, obs: np.ndarray, state: State) -> tuple[torch.Tensor, State]:
        """Q-values for one observation per env, advancing each env's state."""
        out, state = self.step_outputs(obs, state)
        return self.loss.q_values(out), state

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        q, self.state = self.step_q(obs, self.state)
        return q.argmax(dim=1).cpu().numpy()

    def head_outputs(self, obs: np.ndarray) -> torch.Tensor:
        """The head's outputs for `obs` after the history so far, without advancing it."""
        return self.step_outputs(obs, self.state)[0]

    @torch.inference_mode()
    def after_step(self, step: VecStep) -> None:
        done = step.terminated | step.truncated
        if done.any():
            self.state = self.torso.reset_state(
                self.state, torch.as_tensor(done, device=self.device)
            )

    def fresh(self, num_envs: int) -> StatefulActor:
        return StatefulActor(self.online, self.loss, self.device, num_envs)

    def begin_episode(self) -> None:
        self.state = self.torso.initial_state(len(self.state[0]), self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"seq_state": [s.clone() for s in self.state]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = tuple(s.to(self.device) for s in state["seq_state"])


Actor = FeedForwardActor | StatefulActor


class _EpisodeStartEnv:
    """An eval env proxy that starts the actor's episode whenever the env resets."""

    def __init__(self, env: SyncVecEnv, actor: Actor):
        self.env, self.actor = env, actor

    def reset(self, **kwargs: Any):
        self.actor.begin_episode()
        return self.env.reset(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class Evaluator:
    """Plays evaluation episodes on an env of its own (a render-capable one for videos) with a
    fresh actor; `current` is the actor of the episode being played (probes read it)."""

    def __init__(self, env_factory: Any, explorer: EpsilonGreedy, actor: Actor):
        self.explorer, self.actor = explorer, actor
        self.current: Actor = actor
        self.envs = EvalEnvs(env_factory)

    def run(
        self,
        episodes: int,
        seed: int,
        epsilon: float,
        recorder: Any = None,
        probes: Sequence[Probe] = (),
    ) -> dict[str, float]:
        actor = self.current = self.actor.fresh(1)

        def policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return self.explorer(obs, epsilon, rng, actor)

        try:
            with self.envs.open(render=recorder is not None) as env:
                wrapped = _EpisodeStartEnv(env, actor)
                return run_episodes(wrapped, policy, episodes, seed, recorder, probes=probes)
        finally:
            self.current = self.actor

    def close(self) -> None:
        self.envs.close()
