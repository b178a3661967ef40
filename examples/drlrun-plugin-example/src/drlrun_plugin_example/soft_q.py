"""A TD loss and a probe for drlrun's Q learner, registered from outside drlrun.

`algo.objective=soft` is soft Q-learning's target (Haarnoja et al. 2017): the hard max over the
next state's Q-values becomes a soft maximum, y = r + gamma^n * tau * logsumexp(Q'(s', .) / tau),
which tends to DQN's target as tau -> 0. Only its keys (`soft_tau`) are declared here; acting,
replay, n-step, target syncing and prioritized replay come from the learner unchanged.

The `q_values` probe (`log.probes=[q_values]`) draws a histogram of the greedy Q-values of 256
replayed states at the end of a run: a quick look at over-estimation. It works for any Q learner
whose replay holds transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.algos.q.losses.base import LossOutput, QLoss, TDBatch, loss_params, weighted_mean
from drlrun.registry import register
from drlrun.viz.probe import Figures, Probe, pyplot


@dataclass
class SoftQParams:
    soft_tau: float = 0.01  # temperature of the soft maximum (0 < tau; small: close to DQN)

    def __post_init__(self) -> None:
        if not self.soft_tau > 0:
            raise ValueError(f"soft_tau must be > 0, got {self.soft_tau}")


class SoftQ(QLoss):
    """Huber loss on r + gamma^n * tau * logsumexp(Q_target(s') / tau)."""

    supports_numpy_q = True  # Q-values are the head outputs, so numpy acting applies

    def __init__(self, params: SoftQParams):
        self.tau = params.soft_tau

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        return out

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        q = online(batch.obs).gather(1, batch.actions.view(-1, 1)).squeeze(1)
        with torch.no_grad():
            soft_max = self.tau * torch.logsumexp(target(batch.next_obs) / self.tau, dim=1)
            y = batch.returns + batch.discounts * soft_max
        per_sample = F.smooth_l1_loss(q, y, reduction="none")
        return LossOutput(
            weighted_mean(per_sample, batch.weights), (y - q).abs().detach(), q.mean()
        )


@register("loss", "soft")
@loss_params(SoftQParams)
def build_soft(params: SoftQParams, core: Any) -> SoftQ:
    return SoftQ(params)


class QValueHistogram(Probe):
    """plots/q_values.png: the greedy Q-value of replayed states, with its mean."""

    def __init__(self, learner: Any):
        self.learner = learner

    def figures(self, out: Figures) -> None:
        learner = self.learner
        if not learner.replay.can_sample(learner.p.n_step):
            return
        batch = learner.replay.sample(256, np.random.default_rng(0), learner.p.n_step, 0.99)
        with torch.no_grad():
            outputs = learner.online(torch.as_tensor(batch.obs, device=learner.device))
            greedy = learner.loss.q_values(outputs).max(dim=1).values.cpu().numpy()
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(greedy, bins=30, color="tab:blue")
        ax.axvline(float(greedy.mean()), color="tab:red", label=f"mean {greedy.mean():.2f}")
        ax.set(xlabel="max_a Q(s, a)", ylabel="replayed states", title="greedy Q-values")
        ax.legend()
        fig.tight_layout()
        out.save(fig, "plots/q_values")


@register("probe", "q_values")
def build_q_values(learner: Any) -> QValueHistogram | None:
    """Q learners with a transition replay; anything else has no Q-values to show."""
    actor = getattr(learner, "actor", None)
    if getattr(learner, "replay", None) is None or getattr(actor, "stateful", True):
        return None
    return QValueHistogram(learner)
