"""Mean-field actor-critic (`mfac`, Yang et al. 2018; beyond the book): a softmax actor
pi(a | s, mean action) beside the MF-Q critic, whose V(s') = sum_a pi(a | s', x') Q(s', a, x').
Acting refines the mean field with samples from the actor; everything else is MF-Q's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from drlrun.algos.accepts import accepts
from drlrun.algos.base import RunContext, module_tensors
from drlrun.algos.marl.core import PolicySpec, q_input
from drlrun.algos.marl.learner import Learner, MFQParams
from drlrun.algos.marl.mfq import MultiAgentQ
from drlrun.envs.multiagent import MultiAgentEnvFactory
from drlrun.errors import DrlrunError
from drlrun.nets.team import TeamNetFactory, TeamQNet
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class MFACParams(MFQParams):
    """Mean-field actor-critic: an actor pi(a | s, mean action) beside the MF-Q critic."""

    actor_lr: float = 5e-4
    entropy_coef: float = 0.01


class ACLearner(Learner):
    """Critic Q(s, a, x) as in MF-Q with V(s') = sum_a pi(a | s', x') Q(s', a, x') (the paper's
    mean-field V), and a softmax actor trained on the critic's advantages of every action.
    The actor is the policy (sampled at temperature 1, exported for opponents); the critic's
    loss is always the batch mean and always applied."""

    fixed_temperature = 1.0

    def __init__(
        self,
        p: MFACParams,
        spec: PolicySpec,
        obs_dim: int,
        groups: int,
        nets: TeamNetFactory,
        device: torch.device,
    ):
        super().__init__(p, spec, obs_dim, groups, nets, device)
        self.actor_args = {**self.net_args, "style": "mlp"}
        self.actor = TeamQNet(**self.actor_args).to(device)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=p.actor_lr)
        self.policy_net, self.policy_args = self.actor, self.actor_args

    def next_value(
        self, b: dict[str, np.ndarray], group: torch.Tensor | None, temperature: float
    ) -> torch.Tensor:
        x_next = self.tensor(q_input(self.spec, b["obs_next"], b["x_next"]))
        pi_next = torch.softmax(self.actor(x_next, group), dim=1)
        return (pi_next * self.bootstrap_net()(x_next, group)).sum(dim=1)

    def update(self, rng: np.random.Generator, temperature: float) -> dict[str, float]:
        b, group, x, q_all = self.sample(rng)
        critic_loss = self.fit_critic(b, group, q_all, temperature, "mean", apply=True)
        logits = self.actor(x, group)
        pi = torch.softmax(logits, dim=1)
        q = q_all.detach()
        advantage = q - (pi.detach() * q).sum(dim=1, keepdim=True)
        entropy = -(pi * torch.log_softmax(logits, dim=1)).sum(dim=1)
        actor_loss = (-(pi * advantage).sum(dim=1) - self.p.entropy_coef * entropy).mean()
        self.step(self.actor_opt, self.actor, actor_loss)
        return {
            "loss": float(critic_loss.detach()),
            "actor_loss": float(actor_loss.detach()),
            "entropy": float(entropy.mean().detach()),
        }

    def named_tensors(self) -> dict[str, torch.Tensor]:
        return {**super().named_tensors(), **module_tensors("actor", self.actor)}

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "actor": self.actor.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        super().load_state_dict(s)
        self.actor.load_state_dict(s["actor"])
        self.actor_opt.load_state_dict(s["actor_opt"])


class MeanFieldAC(MultiAgentQ):
    """MF-AC (Yang et al. 2018): actions are sampled from the actor (refined like MF-Q)."""

    learner_class = ACLearner


@register("algo", "mfac")
@accepts(nets=("team_mlp",), tasks=("teams",))
def build_mfac(cfg: Any, env: MultiAgentEnvFactory, ctx: RunContext) -> MeanFieldAC:
    """The env is a team env: session.build checked the declared task kinds."""
    p = from_cfg(MFACParams, cfg, "algo")
    if p.interaction != "mean":
        raise DrlrunError(f"algo=mfac means interaction=mean; got {p.interaction}")
    return MeanFieldAC(p, env, ctx)
