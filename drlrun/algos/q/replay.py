"""The Q learner's transition replay: a numpy ring (uniform or prioritized) read as TD batches,
where a checkpoint keeps it, and the book's copies of rewarded terminal transitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from drlrun.algos.q.losses.base import LossInputs, TDBatch
from drlrun.buffers.prioritized import PrioritizedReplayBuffer
from drlrun.buffers.replay import Batch, ReplayBuffer
from drlrun.envs.base import obs_dtype
from drlrun.errors import DrlrunError

if TYPE_CHECKING:
    from drlrun.algos.q.learner import QLearner

# algo.replay_in_checkpoint=auto: a replay up to this size goes inside the checkpoint, a larger
# one into the runner's memory-mapped replay store (drlrun/replay_store.py)
REPLAY_IN_CHECKPOINT_MAX_BYTES = 2 * 1024**3
ReplayStorage = Literal["checkpoint", "memmap", "none"]


class RingBatches:
    """Transitions in a numpy ring (uniform or prioritized); n-step returns at sample time."""

    def __init__(self, learner: QLearner):
        self.learner = learner
        self.replay = self._make(learner)

    @staticmethod
    def _make(learner: QLearner) -> ReplayBuffer:
        p, per, env = learner.p, learner.cfg.per, learner.env_factory
        space = env.observation_space
        shape, dtype, stack = space.shape, obs_dtype(space), env.frame_stack
        if p.replay == "uniform":
            return ReplayBuffer(p.buffer_size, learner.num_envs, shape, dtype, stack)
        beta_frames = per.per_beta_frames or learner.ctx.budget_frames or 100_000
        try:
            return PrioritizedReplayBuffer(
                p.buffer_size,
                learner.num_envs,
                shape,
                dtype,
                stack,
                n_step=p.n_step,
                alpha=per.per_alpha,
                beta_start=per.per_beta_start,
                beta_frames=beta_frames,
                eps=per.per_eps,
            )
        except ValueError as err:
            raise DrlrunError(f"algo.per_*: {err}") from None

    def sample(self) -> LossInputs:
        """A TD batch with n-step returns, read by the live networks."""
        learner, p = self.learner, self.learner.p
        batch = self.replay.sample(p.batch_size, learner.rng, p.n_step, p.gamma)
        if learner.augment is not None:
            batch = learner.augment(batch)
        return LossInputs(to_td_batch(batch, learner.to_tensor), learner.online, learner.target,
                          sampled=batch)  # fmt: skip

    def storage(self, mode: ReplayStorage) -> ReplayStorage:
        return mode


def to_td_batch(batch: Batch, t: Callable[[np.ndarray], torch.Tensor]) -> TDBatch:
    return TDBatch(
        obs=t(batch.obs),
        actions=t(batch.actions).long(),
        returns=t(batch.returns),
        discounts=t(batch.discounts),
        next_obs=t(batch.next_obs),
        weights=None if batch.weights is None else t(batch.weights).float(),
    )


def add_copies(replay, obs, actions, rewards, terminated, copies: int) -> None:
    """The book's replay trick: store a rewarded terminal transition `copies` more times (its
    next state is never bootstrapped, so a copy is an exact duplicate; single env only)."""
    if not (rewards[0] > 0 and terminated[0]):
        return
    truncated = np.zeros_like(terminated)
    for _ in range(copies):
        replay.add(obs, actions, rewards, terminated, truncated, {})
