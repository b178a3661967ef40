"""algo=icm_dqn: the Q learner with ICM (book chapter 8) and the book's acting and Q-loss options.

It is the Q learner with `curiosity=icm` implied (`curiosity=rnd` still picks RND), plus the
switches the chapter 8 presets need, each named after the book bug it reproduces:
- `softmax_steps`: the first N agent steps act by sampling softmax(normalize(Q)) (book: 1,000),
- `random_actions`: epsilon-greedy draws random actions from the first N only (book: 7 of 12),
- loss `icm_book` (`algo.objective: icm_book`): the book's Q loss, 1e5 * MSE(normalize(Q(s)),
  normalize(target row)), with `batch_max` (max over the whole batch instead of per row) and
  `terminal_mask` (false: no done flag, as the book's replay stores none). No target network =
  `target_update_every: 1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from drlrun.algos.accepts import accepts
from drlrun.algos.base import RunContext
from drlrun.algos.q.collector import EpsilonGreedy
from drlrun.algos.q.learner import QLearner
from drlrun.algos.q.losses.base import LossOutput, QLoss, TDBatch, loss_params
from drlrun.algos.q.params import parse
from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.registry import register


@dataclass
class ICMActing:
    """The chapter's acting options (algo=icm_dqn only)."""

    softmax_steps: int = 0  # book: 1,000 steps of softmax(normalize(Q)) sampling first
    random_actions: int | None = None  # book bug 7: randint(0, 7) -> only actions 0-6


@dataclass
class BookICMParams:
    batch_max: bool = False  # book bug 3: torch.max(Q(s')) over the whole batch
    terminal_mask: bool = True  # book bug 4: false = no done flag in the target
    q_loss_scale: float = 1e5  # scale of the normalised-Q MSE


class BookICMQ(QLoss):
    """The book's `minibatch_train` Q loss on L2-normalised Q rows (bugs 3-5 as switches)."""

    def __init__(self, params: BookICMParams, core: Any):
        self.batch_max = params.batch_max
        self.terminal_mask = params.terminal_mask
        self.scale = params.q_loss_scale
        self.gamma = core.gamma**core.n_step

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        q_all = online(batch.obs)
        with torch.no_grad():
            next_q = target(batch.next_obs)
            next_v = next_q.max() if self.batch_max else next_q.max(dim=1).values
            discounts = batch.discounts
            if not self.terminal_mask:
                discounts = torch.full_like(discounts, self.gamma)
            y = batch.returns + discounts * next_v
            goal = q_all.detach().clone()
            goal[torch.arange(len(y)), batch.actions] = y
        per_row = F.mse_loss(F.normalize(q_all, dim=1), F.normalize(goal, dim=1), reduction="none")
        per_sample = self.scale * per_row.mean(dim=1)
        q = q_all.gather(1, batch.actions.view(-1, 1)).squeeze(1)
        loss = per_sample.mean() if batch.weights is None else (per_sample * batch.weights).mean()
        return LossOutput(loss, (y - q).abs().detach(), q.mean())


@register("loss", "icm_book")
@loss_params(BookICMParams)
def build_icm_book(params: BookICMParams, core: Any) -> BookICMQ:
    return BookICMQ(params, core)


class SoftmaxWarmup(EpsilonGreedy):
    """Epsilon-greedy over the first `random_actions` actions; during training's first
    `softmax_steps` frames, sampling from softmax(normalize(Q)) instead (evaluation never)."""

    def __init__(self, n_actions: int, acting: ICMActing):
        super().__init__(n_actions, acting.random_actions)
        self.n_actions, self.softmax_steps = n_actions, acting.softmax_steps
        self.learner: QLearner | None = None  # set once the learner exists

    def __call__(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator, actor: Any):
        learner = self.learner
        if learner is not None and rng is learner.rng and learner.frames < self.softmax_steps:
            with torch.inference_mode():
                q = learner.loss.q_values(learner.online(learner.to_tensor(obs)))
                probs = torch.softmax(F.normalize(q, dim=1), dim=1).cpu().numpy()
            u = rng.random((len(obs), 1))
            return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), self.n_actions - 1)
        return super().__call__(obs, epsilon, rng, actor)


@register("algo", "icm_dqn")
@accepts(nets="any", curiosity=True, precision=True)
def build_icm_dqn(cfg: DictConfig, env: EnvFactory, ctx: RunContext) -> QLearner:
    config = parse(cfg, extra=(ICMActing,))
    acting: ICMActing = config.extra[ICMActing]
    n_actions = int(getattr(env.action_space, "n", 0))  # QLearner refuses other spaces
    if acting.random_actions is not None and not 1 <= acting.random_actions <= max(n_actions, 1):
        raise DrlrunError(f"algo.random_actions must be in 1..{n_actions} or null")
    explorer = SoftmaxWarmup(n_actions, acting)
    learner = QLearner(config, env, ctx, explorer=explorer, curiosity_default="icm")
    explorer.learner = learner
    return learner
