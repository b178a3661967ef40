"""algo=icm_dqn: the DQN learner with ICM (book chapter 8) and the book's acting and Q-loss options.

It is `DQN` with `curiosity=icm` implied (`curiosity=rnd` still picks RND), plus the switches
the chapter 8 presets need, each named after the book bug it reproduces:
- `softmax_steps`: the first N agent steps act by sampling softmax(normalize(Q)) (book: 1,000),
- `random_actions`: epsilon-greedy draws random actions from the first N only (book: 7 of 12),
- `objective: icm_book`: the book's Q loss, 1e5 * MSE(normalize(Q(s)), normalize(target row)),
  with `batch_max` (max over the whole batch instead of per row) and `terminal_mask` (false: no
  done flag, as the book's replay stores none). No target network = `target_update_every: 1`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from drlrun.algos.accepts import accepts
from drlrun.algos.base import RunContext
from drlrun.algos.dqn import DQN, DQNParams
from drlrun.algos.objectives import OBJECTIVES, LossOutput, Objective, TDBatch
from drlrun.envs.base import EnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class ICMDQNParams(DQNParams):
    softmax_steps: int = 0  # book: 1,000 steps of softmax(normalize(Q)) sampling first
    random_actions: int | None = None  # book bug 7: randint(0, 7) -> only actions 0-6
    batch_max: bool = False  # book bug 3: torch.max(Q(s')) over the whole batch
    terminal_mask: bool = True  # book bug 4: false = no done flag in the target
    q_loss_scale: float = 1e5  # icm_book objective: scale of the normalised-Q MSE


class BookICMQ(Objective):
    """The book's `minibatch_train` Q loss on L2-normalised Q rows (bugs 3-5 as switches)."""

    def __init__(self, params: ICMDQNParams):
        self.batch_max = getattr(params, "batch_max", False)
        self.terminal_mask = getattr(params, "terminal_mask", True)
        self.scale = getattr(params, "q_loss_scale", 1e5)
        self.gamma = params.gamma**params.n_step

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


OBJECTIVES["icm_book"] = BookICMQ


class ICMDQN(DQN):
    """DQN + curiosity with the book's exploration options."""

    curiosity_default = "icm"
    p: ICMDQNParams

    def __init__(self, p: ICMDQNParams, env: EnvFactory, ctx: RunContext):
        super().__init__(p, env, ctx)
        if p.random_actions is not None and not 1 <= p.random_actions <= self.n_actions:
            raise DrlrunError(f"algo.random_actions must be in 1..{self.n_actions} or null")

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Training (the learner's own rng) starts with softmax sampling; evaluation never does."""
        p = self.p
        if rng is self.rng and self.frames < p.softmax_steps:
            with torch.inference_mode():
                q = self.objective.q_values(self.online(self._tensor(obs)))
                probs = torch.softmax(F.normalize(q, dim=1), dim=1).cpu().numpy()
            u = rng.random((len(obs), 1))
            return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), self.n_actions - 1)
        if p.random_actions is None:
            return super().act(obs, epsilon, rng)
        explore = rng.random(len(obs)) < epsilon
        random_actions = rng.integers(0, p.random_actions, size=len(obs))
        if explore.all():
            return random_actions
        return np.where(explore, random_actions, self.greedy(obs))


@register("algo", "icm_dqn")
@accepts(nets="any", curiosity=True)
def build_icm_dqn(cfg: DictConfig, env: EnvFactory, ctx: RunContext) -> ICMDQN:
    return ICMDQN(from_cfg(ICMDQNParams, cfg, "algo"), env, ctx)
