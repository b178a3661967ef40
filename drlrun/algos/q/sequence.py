"""The DQN learner on sequences (R2D2-style) for recurrent and attention torsos.

Same objectives (scalar, C51, QR; double; n-step), acting, target syncing and optimiser as
`DQN`; what changes is that acting carries each env's torso state (reset at episode start) and
updates replay windows of whole episodes: a burn-in prefix warms the state up without
gradients or loss, then Q-values over the next L + n steps give the online values at the L loss
positions and the (target and double) values at their n-step bootstrap positions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlrun.algos.base import RunContext, run_episodes
from drlrun.algos.dqn import DQN, DQNParams, ReplayStorage
from drlrun.algos.objectives import TDBatch
from drlrun.buffers.sequence import SequenceBatch, SequenceReplay
from drlrun.envs.base import EnvFactory
from drlrun.envs.vector import SyncVecEnv, VecStep
from drlrun.errors import DrlrunError
from drlrun.nets.heads import QNetwork
from drlrun.nets.sequence import SequenceTorso, State


class _Lookup:
    """Stands in for a network inside an objective: `net(index)` returns precomputed outputs."""

    def __init__(self, outputs: torch.Tensor):
        self.outputs = outputs

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        return self.outputs[index]


def sequence_outputs(net: QNetwork, obs: torch.Tensor, first: torch.Tensor, burn: int):
    """Head outputs (B, T - burn, ...) after burning in on the first `burn` positions."""
    torso: SequenceTorso = net.torso
    state = torso.burn_in(obs[:, :burn], first)
    features, _ = torso.forward_seq(obs[:, burn:], state)
    batch, steps = features.shape[:2]
    out = net.head(features.reshape(batch * steps, -1))
    return out.view(batch, steps, *out.shape[1:])


class _EpisodeResetEnv:
    """An eval env proxy that resets the policy's state whenever the env resets."""

    def __init__(self, env: SyncVecEnv, on_reset: Callable[[], None]):
        self.env, self.on_reset = env, on_reset

    def reset(self, **kwargs: Any):
        self.on_reset()
        return self.env.reset(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class SequenceDQN(DQN):
    """`algo=dqn` with `net=lstm|transformer|memory`: sequence replay and stateful acting."""

    def __init__(self, p: DQNParams, env: EnvFactory, ctx: RunContext):
        if p.replay != "uniform":
            raise DrlrunError("sequence torsos use uniform sequence replay; set replay=uniform")
        if p.seq_len < 1 or p.burn_in < 0:
            raise DrlrunError("algo.seq_len must be >= 1 and algo.burn_in >= 0")
        if env.frame_stack > 1:
            raise DrlrunError("sequence torsos keep their own history; set env.frame_stack=1")
        curiosity = ctx.curiosity_cfg.get("name", "none") if ctx.curiosity_cfg else "none"
        if curiosity != "none":  # its window update has no intrinsic-reward relabelling
            raise DrlrunError(
                f"curiosity={curiosity} works with feedforward nets only; net={ctx.net_cfg.name} "
                "selects the sequence learner, which takes no curiosity module"
            )
        if p.replay_in_checkpoint == "memmap":
            raise DrlrunError(
                "algo.replay_in_checkpoint=memmap: sequence replay keeps whole episodes, not a "
                "ring the memmap store can hold; use auto, always or never"
            )
        super().__init__(p, env, ctx)
        self.online.eval()  # hard memory reads sample Gumbel noise only while updating
        self.target.eval()
        self.state = self.torso.initial_state(self.num_envs, self.device)

    @property
    def torso(self) -> SequenceTorso:
        return self.online.torso

    def make_replay(self, obs_shape: tuple[int, ...], dtype: np.dtype) -> SequenceReplay:
        return SequenceReplay(self.p.buffer_size, self.num_envs, obs_shape, dtype)

    def replay_storage(self) -> ReplayStorage:
        """As DQN's, but a sequence replay over the auto limit is not kept (no memmap store for
        episode lists): the resume then says so (resume_caveats)."""
        storage = super().replay_storage()
        return "none" if storage == "memmap" else storage

    # --- acting -----------------------------------------------------------------------------
    @torch.inference_mode()
    def step_q(self, obs: np.ndarray, state: State) -> tuple[torch.Tensor, State]:
        """Q-values for one observation per env, advancing each env's state."""
        features, state = self.torso.forward_seq(self._tensor(obs).unsqueeze(1), state)
        return self.objective.q_values(self.online.head(features[:, 0])), state

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Epsilon-greedy; the network always runs so the state sees every observation."""
        explore = rng.random(len(obs)) < epsilon
        random_actions = rng.integers(0, self.n_actions, size=len(obs))
        q, self.state = self.step_q(obs, self.state)
        return np.where(explore, random_actions, q.argmax(dim=1).cpu().numpy())

    @torch.inference_mode()
    def after_env_step(self, step: VecStep) -> None:
        done = step.terminated | step.truncated
        if done.any():
            self.state = self.torso.reset_state(self.state, self._tensor(done))

    # --- learning ---------------------------------------------------------------------------
    def sample(self) -> SequenceBatch:
        p = self.p
        return self.replay.sample(
            p.batch_size,
            self.rng,
            p.seq_len,
            p.burn_in,
            p.n_step,
            p.gamma,
            aligned=p.seq_start == "aligned",
        )

    def sequence_loss(self, batch: SequenceBatch):
        """The objective's loss over the real loss positions of a batch of windows."""
        t, p = self._tensor, self.p
        obs, first = t(batch.obs), t(batch.first)
        self.online.train()
        try:
            online = sequence_outputs(self.online, obs, first, p.burn_in)
            aux = self.torso.aux_loss()
        finally:
            self.online.eval()
        with torch.no_grad():
            target = sequence_outputs(self.target, obs, first, p.burn_in)
        steps = online.shape[1]
        rows, cols = np.nonzero(batch.mask)
        td = TDBatch(
            obs=t(rows * steps + cols),
            actions=t(batch.actions[rows, cols]),
            returns=t(batch.returns[rows, cols]),
            discounts=t(batch.discounts[rows, cols]),
            next_obs=t(rows * steps + batch.boot[rows, cols]),
            weights=None,
        )
        flat = online.flatten(0, 1)
        out = self.objective.loss(_Lookup(flat), _Lookup(target.flatten(0, 1)), td, p.double)
        return out, aux

    def update(self) -> tuple[torch.Tensor, torch.Tensor]:
        out, aux = self.sequence_loss(self.sample())
        loss = out.loss if aux is None else out.loss + aux
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return out.loss.detach(), out.q_mean.detach()

    # --- evaluation -------------------------------------------------------------------------
    def evaluate(self, episodes: int, seed: int, epsilon: float = 0.0, recorder=None):
        holder: dict[str, State] = {}

        def reset() -> None:
            holder["state"] = self.torso.initial_state(1, self.device)

        def policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            explore = rng.random(len(obs)) < epsilon
            random_actions = rng.integers(0, self.n_actions, size=len(obs))
            q, holder["state"] = self.step_q(obs, holder["state"])
            return np.where(explore, random_actions, q.argmax(dim=1).cpu().numpy())

        if recorder is not None:
            env = self.env_factory.make_eval(render=True)
            try:
                return run_episodes(_EpisodeResetEnv(env, reset), policy, episodes, seed, recorder)
            finally:
                env.close()
        if self._eval_env is None:
            self._eval_env = self.env_factory.make_eval()
        return run_episodes(_EpisodeResetEnv(self._eval_env, reset), policy, episodes, seed)

    # --- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "seq_state": [s.clone() for s in self.state]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.state = tuple(s.to(self.device) for s in state["seq_state"])

    def plots(self, run_dir: Path) -> list[Path]:
        from drlrun.viz.sequence import sequence_plots

        return super().plots(run_dir) + sequence_plots(self, run_dir)
