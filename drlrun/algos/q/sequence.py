"""Sequence replay for the Q learner on stateful torsos (net=lstm|transformer|memory), R2D2-style.

The replay keeps whole episodes and samples windows: a burn-in prefix warms the torso state up
without gradients or loss, then head outputs over the next L + n steps give the online values at
the L loss positions and the (target and double) values at their n-step bootstrap positions.
The loss then reads those outputs through lookups, so every loss (scalar, C51, QR; double;
n-step) works unchanged. Acting carries each env's state (collector.StatefulActor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from drlrun.algos.q.losses.base import LossInputs, TDBatch
from drlrun.buffers.sequence import SequenceBatch, SequenceReplay
from drlrun.envs.base import obs_dtype
from drlrun.errors import DrlrunError
from drlrun.nets.heads import QNetwork
from drlrun.nets.sequence import SequenceTorso

if TYPE_CHECKING:
    from drlrun.algos.base import RunContext
    from drlrun.algos.q.learner import QLearner
    from drlrun.algos.q.params import QConfig
    from drlrun.algos.q.replay import ReplayStorage
    from drlrun.envs.base import EnvFactory


class _Lookup:
    """Stands in for a network inside a loss: `net(index)` returns precomputed outputs."""

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


def check_sequence_options(cfg: QConfig, env: EnvFactory, ctx: RunContext) -> None:
    """Refuse, in one line, what sequence replay cannot do (before anything is built)."""
    p, seq = cfg.core, cfg.seq
    if p.replay != "uniform":
        raise DrlrunError("sequence torsos use uniform sequence replay; set replay=uniform")
    if seq.seq_len < 1 or seq.burn_in < 0:
        raise DrlrunError("algo.seq_len must be >= 1 and algo.burn_in >= 0")
    if env.frame_stack > 1:
        raise DrlrunError("sequence torsos keep their own history; set env.frame_stack=1")
    curiosity = ctx.curiosity_cfg.get("name", "none") if ctx.curiosity_cfg else "none"
    if curiosity != "none":  # the window update has no per-transition observations to relabel
        raise DrlrunError(
            f"curiosity={curiosity} works with feedforward nets only; net={ctx.net_cfg.name} "
            "replays sequences, which take no curiosity module"
        )
    if p.replay_in_checkpoint == "memmap":
        raise DrlrunError(
            "algo.replay_in_checkpoint=memmap: sequence replay keeps whole episodes, not a "
            "ring the memmap store can hold; use auto, always or never"
        )


class SequenceBatches:
    """Whole episodes; windows sampled uniformly (or DRQN's aligned segments)."""

    def __init__(self, learner: QLearner):
        self.learner = learner
        space = learner.env_factory.observation_space
        self.replay = SequenceReplay(
            learner.p.buffer_size, learner.num_envs, space.shape, obs_dtype(space)
        )

    def sample(self) -> LossInputs:
        learner, p, seq = self.learner, self.learner.p, self.learner.cfg.seq
        batch: SequenceBatch = self.replay.sample(
            p.batch_size,
            learner.rng,
            seq.seq_len,
            seq.burn_in,
            p.n_step,
            p.gamma,
            aligned=seq.seq_start == "aligned",
        )
        return self.inputs(batch)

    def inputs(self, batch: SequenceBatch) -> LossInputs:
        """The loss's view of a batch of windows: online/target outputs at every position
        (after burn-in), read at the loss and bootstrap positions."""
        learner, seq = self.learner, self.learner.cfg.seq
        t = learner.to_tensor
        obs, first = t(batch.obs), t(batch.first)
        learner.online.train()
        try:
            online = sequence_outputs(learner.online, obs, first, seq.burn_in)
            torso_loss = learner.online.torso.aux_loss()
        finally:
            learner.online.eval()
        with torch.no_grad():
            target = sequence_outputs(learner.target, obs, first, seq.burn_in)
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
        return LossInputs(
            td, _Lookup(online.flatten(0, 1)), _Lookup(target.flatten(0, 1)), torso_loss, batch
        )

    def storage(self, mode: ReplayStorage) -> ReplayStorage:
        """A sequence replay over the auto limit is not kept (no memmap store for episode
        lists): the resume then says so (resume_caveats)."""
        return "none" if mode == "memmap" else mode
