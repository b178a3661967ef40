"""What every TD loss shares: the batch it reads, what it returns, and how one is chosen.

A loss is registered as kind `loss` with a builder `(its params, core params) -> QLoss`; `algo.objective`
names it. Each loss declares its own config keys as a dataclass on the builder (`builder.params`),
read from the flat algo block (drlrun.algos.q.params), so e.g. C51's `atoms` lives beside C51.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from torch import nn

from drlrun import registry

if TYPE_CHECKING:
    from drlrun.algos.optim import FlatAdam

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class TDBatch:
    """A replay batch as tensors on the learner's device."""

    obs: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    discounts: torch.Tensor
    next_obs: torch.Tensor
    weights: torch.Tensor | None


@dataclass
class LossOutput:
    loss: torch.Tensor  # scalar to minimise
    td_abs: torch.Tensor  # per-sample |TD error| (priorities for prioritized replay)
    q_mean: torch.Tensor  # mean Q of the taken actions, for logging


@dataclass
class LossInputs:
    """What one update feeds the loss: the TD batch and the networks to read it with (the live
    modules, or lookups of precomputed window outputs for sequence replay)."""

    batch: TDBatch
    online: Callable[[torch.Tensor], torch.Tensor]
    target: Callable[[torch.Tensor], torch.Tensor]
    torso_loss: torch.Tensor | None = None  # a sequence torso's own auxiliary loss
    sampled: Any = None  # the replay's batch (prioritized replay updates its priorities)


class Kernel:
    """An autograd-free update for one loss on one network shape: the loss, with its gradient
    written straight into the optimiser's flat gradient buffer."""

    def loss_and_grad(self, batch: TDBatch, double: bool) -> LossOutput:
        raise NotImplementedError


class QLoss:
    """Maps head outputs to Q-values and computes the TD loss."""

    atoms: int = 1  # head outputs per action (distribution atoms or quantiles)
    supports_numpy_q: bool = False  # q_values_numpy is implemented (fast CPU acting)
    probes: tuple[str, ...] = ()  # probes that show this loss (drlrun.viz.probe)

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        """(batch, actions) expected values from the head's raw output."""
        return out

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        """`q_values` for numpy head outputs (see kernel.NumpyMLPActor)."""
        raise NotImplementedError

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        raise NotImplementedError

    def kernel(
        self, online: nn.Module, target: nn.Module, optimizer: FlatAdam, device: torch.device
    ) -> Kernel | None:
        """The autograd-free update that computes exactly this loss for these networks, or None
        (the learner then uses autograd). Each loss decides for itself."""
        return None


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (values * weights).mean()


def loss_params(params_cls: type) -> Callable[[F], F]:
    """Decorator for a loss builder: the dataclass of its config keys in the algo block."""

    def mark(builder: F) -> F:
        builder.params = params_cls  # type: ignore[attr-defined]
        return builder

    return mark


def make_loss(name: str, params: Any, core: Any) -> QLoss:
    """The registered loss `name`, built from its own params and the learner's core params
    (gamma, n_step); a loss without a params dataclass gets the core params twice."""
    return registry.lookup("loss", name)(core if params is None else params, core)
