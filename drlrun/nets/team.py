"""The multi-agent family's team Q network (book ch. 9), `net=team_mlp`: one network shared by a
team's agents or one parameter set per agent, with the mean action through its own head.

It is a whole network (observation and neighbours' actions in, one Q per action out), not a torso
under the Q learner's heads, so only the algorithms that declare it (mfq, nq, iq, mfac) take it;
its shape comes from the `net` group (net.hidden, net.style, net.mf_head, net.activation) and the
sizes the game fixes (inputs, actions, agents) from the algorithm."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from drlrun.nets.base import functional_activation, whole_network
from drlrun.params import from_cfg
from drlrun.registry import register


class TeamQNet(nn.Module):
    """Q(input) -> (B, A) with `groups` parameter sets (1: shared by the team; N: one per agent).

    style "book": the book's `qfunc` - hidden layers elu(x @ W + 1) with a constant ones bias,
    output tanh(h @ W) without bias, every parameter randn/10. style "mlp": learned biases,
    linear output (Q is not squashed into [-1, 1]), PyTorch's default uniform init.

    `x_hidden` (mlp style): the last `x_dim` inputs (the neighbours' mean action) get their own
    head of that many units, joined to the first hidden layer of the rest (the MF-Q paper's
    battle net; the book's "two-headed" Q-net): 21 mean-action inputs are not drowned by 338
    view inputs in one shared first layer."""

    def __init__(
        self,
        in_dim: int,
        hidden: list[int],
        n_actions: int,
        groups: int = 1,
        style: str = "mlp",
        activation: str = "elu",
        x_dim: int = 0,
        x_hidden: list[int] | None = None,
    ):
        super().__init__()
        self.style, self.groups = style, groups
        self.x_dim = x_dim if x_hidden and x_dim else 0
        if self.x_dim and (style == "book" or not hidden):
            raise ValueError("a mean-field head (x_hidden) needs style mlp and a hidden layer")
        self.act = functional_activation(activation)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        head = [self.x_dim, *(x_hidden or [])] if self.x_dim else [0]
        sizes = [in_dim - self.x_dim, *hidden, n_actions]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self._layer(fan_in + (head[-1] if i == 1 else 0), fan_out)  # layer 1 joins the head
        self.n_trunk = len(self.weights)
        for fan_in, fan_out in zip(head[:-1], head[1:], strict=True):
            self._layer(fan_in, fan_out)

    def _layer(self, fan_in: int, fan_out: int) -> None:
        if self.style == "book":
            self.weights.append(nn.Parameter(torch.randn(self.groups, fan_in, fan_out) / 10))
            return
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.empty(self.groups, fan_in, fan_out).uniform_(-bound, bound)
        self.weights.append(nn.Parameter(w))
        self.biases.append(nn.Parameter(torch.empty(self.groups, fan_out).uniform_(-bound, bound)))

    def _linear(self, x: torch.Tensor, i: int, group: torch.Tensor | None) -> torch.Tensor:
        w = self.weights[i]
        x = x @ w[0] if self.groups == 1 else torch.bmm(x.unsqueeze(1), w[group]).squeeze(1)
        if self.style == "book":
            return x
        b = self.biases[i]
        return x + (b[0] if self.groups == 1 else b[group])

    def forward(self, x: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
        head = None
        if self.x_dim:
            x, head = x[:, : -self.x_dim], x[:, -self.x_dim :]
            for i in range(self.n_trunk, len(self.weights)):
                head = self.act(self._linear(head, i, group))
        last = self.n_trunk - 1
        for i in range(self.n_trunk):
            if i == 1 and head is not None:
                x = torch.cat([x, head], dim=1)
            x = self._linear(x, i, group)
            if self.style == "book":
                x = torch.tanh(x) if i == last else self.act(x + 1.0)
            elif i < last:
                x = self.act(x)
        return x


@dataclass
class TeamNetParams:
    """net=team_mlp: hidden layers, the book's or a standard layer style, the mean-action head."""

    hidden: list[int] = field(default_factory=lambda: [64])
    style: Literal["book", "mlp"] = "mlp"
    mf_head: list[int] = field(default_factory=list)  # [] one MLP; [64, 32]: own mean-field head
    activation: Literal["elu", "relu", "tanh"] = "elu"


@dataclass(frozen=True)
class TeamNetFactory:
    """Builds a team's Q network (and a policy net of the same shape) once the game fixes its
    sizes; `args` is what a checkpoint keeps so an opponent can rebuild it (TeamQNet(**args))."""

    p: TeamNetParams

    def args(self, in_dim: int, n_actions: int, groups: int, x_dim: int) -> dict[str, Any]:
        return {
            "in_dim": in_dim,
            "hidden": list(self.p.hidden),
            "n_actions": n_actions,
            "groups": groups,
            "style": self.p.style,
            "activation": self.p.activation,
            "x_dim": x_dim,
            "x_hidden": list(self.p.mf_head),
        }


@register("net", "team_mlp")
@whole_network
def build_team_mlp(cfg: Any, task: Any = None) -> TeamNetFactory:
    """The team network's settings; the algorithm builds one per team once sizes are known."""
    return TeamNetFactory(from_cfg(TeamNetParams, cfg, "net"))
