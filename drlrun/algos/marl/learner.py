"""What one team learns with (book ch. 9): the family's parameters and the `Learner` (a Q
network shared by the team's agents or one per agent, an optional target network, the optimiser
and a row replay). MF-AC's learner (marl/mfac.py) adds an actor and its own V(s')."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from drlrun.algos.base import module_tensors
from drlrun.algos.marl.core import PolicySpec, RowReplay, q_input, q_target
from drlrun.algos.marl.opponents import parse_opponent
from drlrun.nets.team import TeamNetFactory, TeamQNet


@dataclass
class MFQParams:
    interaction: Literal["mean", "joint", "none"] = "mean"
    use_obs: bool = True  # feed the agent's own observation (book 2D Ising: mean field only)
    share_params: bool = True  # false: one network per agent (book 1D Ising)
    num_iter: int = 3  # refinement passes before acting
    # the neighbours' actions a replay row stores: those the agent's action was chosen under
    # (book infer_acts: the last refinement pass) or those the neighbours then took (MF-Q paper,
    # Algorithm 1: Q(s, a, mean action) is fitted on the mean of the actions actually played)
    replay_features: Literal["chosen", "taken"] = "chosen"
    temperature: float = 0.5  # Boltzmann temperature while training (env.temperature overrides)
    temperature_end: float | None = None  # anneal linearly to this over temperature_decay_frames
    temperature_decay_frames: int = 0
    eval_temperature: float | None = None  # null: the training temperature
    gamma: float = 0.9
    optimizer: Literal["sgd", "adam"] = "adam"
    lr: float = 1e-3
    loss_reduction: Literal["sum", "mean"] = "mean"
    grad_clip: float | None = 10.0
    replay_size: int = 50_000  # rows (one per agent per step)
    batch_size: int = 256  # rows
    learning_starts: int = 256  # rows in replay before the first update
    train_freq: int = 1  # env steps between updates
    gradient_steps: int = 1
    target_update: int = 0  # env steps between target syncs; 0: no target network (book)
    v_next: Literal["max", "boltzmann", "stale"] = "max"  # stale: book bug 4
    book_target_indexing: bool = False  # bug 3: target[:, a] = y writes whole columns
    book_no_update: bool = False  # bug 1: MAgent's train() never changes the parameters
    book_team2_uses_team1_net: bool = False  # bug 2: team 2 acts with team 1's network
    train_opponent: Literal["learn", "random"] = "learn"  # teams after the first, in training
    steps_per_iteration: int | None = 1  # null: one whole episode per train_step
    eval_steps: int = 75  # grid games: steps per evaluation episode (battles end themselves)
    opponent: str = "random"  # eval.opponent: random | self | checkpoint:<path>
    eval_swap_sides: bool = True  # battles: every other battle is played from the second side

    def __post_init__(self) -> None:
        if self.num_iter < 0 or self.temperature < 0 or not 0 <= self.gamma <= 1:
            raise ValueError("num_iter and temperature must be >= 0, gamma in [0, 1]")
        if self.batch_size < 1 or self.replay_size < self.batch_size:
            raise ValueError("need 1 <= batch_size <= replay_size")
        if self.train_freq < 1 or self.gradient_steps < 0:
            raise ValueError("train_freq must be >= 1 and gradient_steps >= 0")
        if self.steps_per_iteration is not None and self.steps_per_iteration < 1:
            raise ValueError("steps_per_iteration must be >= 1 or null")
        if not self.use_obs and self.interaction == "none":
            raise ValueError("interaction=none needs use_obs=true (the Q net would get no input)")
        parse_opponent(self.opponent)


class Learner:
    """One team's network, target, optimiser and replay; the network's shape comes from the
    `net` group (net=team_mlp), its device from the `device` group (the replay stays in numpy)."""

    # the temperature actions are sampled with; None: the algorithm's (Boltzmann over Q, maybe
    # annealed). An actor that is its own softmax policy (MF-AC) fixes it to 1.
    fixed_temperature: float | None = None

    def __init__(
        self,
        p: MFQParams,
        spec: PolicySpec,
        obs_dim: int,
        groups: int,
        nets: TeamNetFactory,
        device: torch.device,
    ):
        self.p, self.spec, self.device = p, spec, device
        in_dim = (obs_dim if spec.use_obs else 0) + spec.x_dim
        self.net_args = nets.args(in_dim, spec.n_actions, groups, spec.x_dim)
        self.net = TeamQNet(**self.net_args).to(device)
        self.target = copy.deepcopy(self.net) if p.target_update > 0 else None
        params = list(self.net.parameters())
        self.opt = (
            torch.optim.Adam(params, lr=p.lr)
            if p.optimizer == "adam"
            else torch.optim.SGD(params, lr=p.lr)
        )
        self.replay = RowReplay(p.replay_size, obs_dim, spec.x_dim)
        self.groups = groups
        # the network actions are sampled from (MF-Q: softmax over Q / T) and its constructor
        # arguments (what an opponent rebuilds it from); MF-AC's actor replaces both
        self.policy_net: TeamQNet = self.net
        self.policy_args: dict[str, Any] = self.net_args

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        """A replay column on the learner's device."""
        return torch.from_numpy(array).to(self.device)

    def group_of(self, rows: np.ndarray) -> torch.Tensor | None:
        return None if self.groups == 1 else self.tensor(rows)

    def update(self, rng: np.random.Generator, temperature: float) -> dict[str, float]:
        p = self.p
        b, group, _, q_all = self.sample(rng)
        loss = self.fit_critic(b, group, q_all, temperature, p.loss_reduction, not p.book_no_update)
        actions = self.tensor(b["action"])
        q_taken = q_all.detach()[torch.arange(len(actions), device=self.device), actions]
        return {"loss": float(loss.detach()), "q_mean": float(q_taken.mean())}

    def sample(
        self, rng: np.random.Generator
    ) -> tuple[dict[str, np.ndarray], torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """A replay batch, its parameter groups, its Q input and Q(s, ., x) (with grad)."""
        b = self.replay.sample(self.p.batch_size, rng)
        group = self.group_of(b["group"])
        x = self.tensor(q_input(self.spec, b["obs"], b["x"]))
        return b, group, x, self.net(x, group)

    def bootstrap_net(self) -> TeamQNet:
        """The critic V(s') is read from: the target network, or the live one without it."""
        return self.target if self.target is not None else self.net

    def next_value(
        self, b: dict[str, np.ndarray], group: torch.Tensor | None, temperature: float
    ) -> torch.Tensor:
        """V(s', x') per row: max_a Q, the Boltzmann mean, or the acting pass's max (book bug 4)."""
        if self.p.v_next == "stale":
            return self.tensor(b["v_stale"])
        x_next = self.tensor(q_input(self.spec, b["obs_next"], b["x_next"]))
        q_next = self.bootstrap_net()(x_next, group)
        if self.p.v_next == "max":
            return q_next.max(dim=1).values
        # the mean-field paper's v = sum_a pi(a | s', x') Q(s', a, x')
        return (torch.softmax(q_next / max(temperature, 1e-8), dim=1) * q_next).sum(1)

    def fit_critic(
        self,
        b: dict[str, np.ndarray],
        group: torch.Tensor | None,
        q_all: torch.Tensor,
        temperature: float,
        reduction: str,
        apply: bool,
    ) -> torch.Tensor:
        """Regress Q(s, a, x) on r + gamma * V(s', x'); `apply` false computes the gradient
        without a step (book bug 1). Returns the loss."""
        p = self.p
        with torch.no_grad():
            v = self.next_value(b, group, temperature)
            done = self.tensor(b["done"])
            y = self.tensor(b["reward"]) + p.gamma * (1.0 - done) * v
        actions = self.tensor(b["action"])
        target = q_target(q_all, actions, y, p.book_target_indexing)
        per_row = ((q_all - target) ** 2).sum(dim=1)
        loss = per_row.sum() if reduction == "sum" else per_row.mean()
        self.step(self.opt, self.net, loss, apply)
        return loss

    def step(
        self, opt: torch.optim.Optimizer, module: torch.nn.Module, loss: torch.Tensor, apply=True
    ) -> None:
        """Backpropagate `loss`, then (if `apply`) clip `module`'s gradient and step `opt`."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if apply:
            if self.p.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), self.p.grad_clip)
            opt.step()

    def named_tensors(self) -> dict[str, torch.Tensor]:
        """This team's learned parameters (the runner's finiteness check)."""
        return module_tensors("net", self.net)

    def sync(self) -> None:
        if self.target is not None:
            self.target.load_state_dict(self.net.state_dict())

    def export(self) -> dict[str, Any]:
        """What an opponent needs to play this team's policy from a checkpoint."""
        return {
            "spec": asdict(self.spec),
            "net_args": self.policy_args,
            "net": self.policy_net.state_dict(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "target": self.target.state_dict() if self.target is not None else None,
            "opt": self.opt.state_dict(),
            "replay": self.replay.state_dict(),
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.net.load_state_dict(s["net"])
        if self.target is not None:
            self.target.load_state_dict(s["target"])
        self.opt.load_state_dict(s["opt"])
        self.replay.load_state_dict(s["replay"])
