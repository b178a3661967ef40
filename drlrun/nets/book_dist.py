"""The book's chapter 7 Dist-DQN network (Listing 7.6), `net=book_dist`: one flat parameter
vector theta viewed as bias-free weight matrices, inputs -> SELU hidden layers -> one
atoms-wide softmax head per action (128 -> 100 -> 25 -> 3 x 51: 19,125 parameters).

A whole network, not a torso: only algo=dist_book (the book's hand-written SGD on theta) takes it;
its hidden sizes and init scale come from the `net` group, the sizes the task fixes (inputs,
actions, atoms) from the algorithm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from drlrun.nets.base import whole_network
from drlrun.nets.flat import numel, unpack
from drlrun.params import from_cfg
from drlrun.registry import register


@dataclass
class BookDistNetParams:
    hidden: list[int] = field(default_factory=lambda: [100, 25])
    init_scale: float = 0.1  # theta = randn * init_scale (the book: randn / 10)


@dataclass(frozen=True)
class FlatDistNet:
    """The network for fixed sizes: the (in, out) weight shapes in theta's order, and forward."""

    shapes: tuple[tuple[int, int], ...]
    hidden_layers: int
    init_scale: float

    @property
    def n_params(self) -> int:
        return numel(self.shapes)

    def init(self, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """theta = randn * init_scale, drawn on the CPU generator (the same on every device)."""
        theta = torch.randn(self.n_params, generator=generator) * self.init_scale
        return theta.to(device).requires_grad_()

    def forward(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """(B, inputs) -> (B, actions, atoms) probabilities."""
        weights = unpack(theta, self.shapes)
        h = x
        for w in weights[: self.hidden_layers]:
            h = F.selu(h @ w)
        logits = torch.stack([h @ w for w in weights[self.hidden_layers :]], dim=1)
        return logits.softmax(dim=2)


@dataclass(frozen=True)
class BookDistNetFactory:
    p: BookDistNetParams

    def make(self, inputs: int, actions: int, atoms: int) -> FlatDistNet:
        dims = [inputs, *self.p.hidden]
        shapes = [(dims[j], dims[j + 1]) for j in range(len(dims) - 1)]
        shapes += [(dims[-1], atoms)] * actions
        return FlatDistNet(tuple(shapes), len(self.p.hidden), self.p.init_scale)


@register("net", "book_dist")
@whole_network
def build_book_dist(cfg: Any, task: Any = None) -> BookDistNetFactory:
    return BookDistNetFactory(from_cfg(BookDistNetParams, cfg, "net"))
