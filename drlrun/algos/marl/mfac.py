"""Mean-field actor-critic (`mfac`, Yang et al. 2018; beyond the book): a softmax actor
pi(a | s, mean action) beside the MF-Q critic, whose V(s') = sum_a pi(a | s', x') Q(s', a, x').
Acting refines the mean field with samples from the actor; everything else is MF-Q's."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from drlrun.algos.accepts import accepts
from drlrun.algos.base import RunContext, module_tensors
from drlrun.algos.marl.core import PolicySpec, TeamQNet, q_input, q_target
from drlrun.algos.marl.mfq import Learner, MFQParams, MultiAgentQ
from drlrun.envs.multiagent import MultiAgentEnvFactory
from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class MFACParams(MFQParams):
    """Mean-field actor-critic: an actor pi(a | s, mean action) beside the MF-Q critic."""

    actor_lr: float = 5e-4
    entropy_coef: float = 0.01


class ACLearner(Learner):
    """Critic Q(s, a, x) as in MF-Q with V(s') = sum_a pi(a | s', x') Q(s', a, x') (the paper's
    mean-field V), and a softmax actor trained on the critic's advantages of every action."""

    def __init__(self, p: MFACParams, spec: PolicySpec, obs_dim: int, groups: int):
        super().__init__(p, spec, obs_dim, groups)
        self.actor = TeamQNet(**{**self.net_args, "style": "mlp"})
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=p.actor_lr)

    def update(self, rng: np.random.Generator, temperature: float) -> dict[str, float]:
        p, spec = self.p, self.spec
        b = self.replay.sample(p.batch_size, rng)
        group = self.group_of(b["group"])
        x = torch.from_numpy(q_input(spec, b["obs"], b["x"]))
        x_next = torch.from_numpy(q_input(spec, b["obs_next"], b["x_next"]))
        q_all = self.net(x, group)
        with torch.no_grad():
            critic = self.target if self.target is not None else self.net
            pi_next = torch.softmax(self.actor(x_next, group), dim=1)
            v = (pi_next * critic(x_next, group)).sum(dim=1)
            y = torch.from_numpy(b["reward"]) + p.gamma * (1 - torch.from_numpy(b["done"])) * v
        actions = torch.from_numpy(b["action"])
        critic_loss = ((q_all - q_target(q_all, actions, y, p.book_target_indexing)) ** 2).sum(1)
        critic_loss = critic_loss.mean()
        self.opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        if p.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), p.grad_clip)
        self.opt.step()
        logits = self.actor(x, group)
        pi = torch.softmax(logits, dim=1)
        q = q_all.detach()
        advantage = q - (pi.detach() * q).sum(dim=1, keepdim=True)
        entropy = -(pi * torch.log_softmax(logits, dim=1)).sum(dim=1)
        actor_loss = (-(pi * advantage).sum(dim=1) - p.entropy_coef * entropy).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        if p.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), p.grad_clip)
        self.actor_opt.step()
        return {
            "loss": float(critic_loss.detach()),
            "actor_loss": float(actor_loss.detach()),
            "entropy": float(entropy.mean().detach()),
        }

    def named_tensors(self) -> dict[str, torch.Tensor]:
        return {**super().named_tensors(), **module_tensors("actor", self.actor)}

    def export(self) -> dict[str, Any]:
        return {"spec": asdict(self.spec), "net_args": self.net_args | {"style": "mlp"},
                "net": self.actor.state_dict()}  # fmt: skip

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

    def policy(self, learner: Learner, evaluation: bool = False) -> tuple[TeamQNet, float]:
        return learner.actor, 1.0  # type: ignore[attr-defined]

    def export(self) -> dict[str, Any]:
        return {**super().export(), "temperature": 1.0}


@register("algo", "mfac")
@accepts(nets="own", tasks=("teams",))
def build_mfac(cfg: Any, env: Any, ctx: RunContext) -> MeanFieldAC:
    if not isinstance(env, MultiAgentEnvFactory):
        raise DrlrunError(
            f"algo={cfg.name} is multi-agent: use env=ising1d, ising2d or magent_battle"
        )
    p = from_cfg(MFACParams, cfg, "algo")
    if p.interaction != "mean":
        raise DrlrunError(f"algo=mfac means interaction=mean; got {p.interaction}")
    return MeanFieldAC(p, env, ctx)
