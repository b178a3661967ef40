"""TD objectives for the one DQN learner: what the head outputs and how it is trained.

DQN and Double DQN use `ScalarQ`; distributional variants (C51, QR-DQN) add their own
objective class here and register it under a name the algo config selects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.errors import DrlrunError


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


class Objective:
    """Maps head outputs to Q-values and computes the TD loss."""

    atoms: int = 1
    supports_numpy_q: bool = False  # q_values_numpy is implemented (fast CPU acting)

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        """(batch, actions) expected values from the head's raw output."""
        return out

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        """`q_values` for numpy head outputs (see fast_q.NumpyMLPActor)."""
        raise NotImplementedError

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        raise NotImplementedError

    def plots(self, learner: Any, run_dir: Path) -> list[Path]:
        """Objective-specific figures at the end of a run (C51: return distributions)."""
        return []

    def frame_panel(self, learner: Any, obs: Any, height: int) -> Any:
        """An RGB image for eval videos, drawn beside the frame (`Algorithm.frame_panel`)."""
        return None


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (values * weights).mean()


class ScalarQ(Objective):
    """Classic DQN: Q(s,a) regressed on r + gamma^n * Q'(s', a*), a* greedy (Double: online)."""

    supports_numpy_q = True

    def __init__(self, params: Any):
        self.kind = params.loss
        # "current": the book's ch. 10 Double DQN bug, a* = argmax_a Q_online(s_t, a)
        self.argmax_on_current = getattr(params, "double_argmax", "next") == "current"

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        return out

    def is_plain(self) -> bool:
        """True when `loss` is the textbook rule above, which `fast_q.MLPQKernel` mirrors; an
        option that changes the loss must make this False (or teach the kernel)."""
        return self.kind in ("mse", "huber") and not self.argmax_on_current

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        q = online(batch.obs).gather(1, batch.actions.view(-1, 1)).squeeze(1)
        with torch.no_grad():
            next_target = target(batch.next_obs)
            if double:
                chooser = batch.obs if self.argmax_on_current else batch.next_obs
                next_actions = online(chooser).argmax(dim=1, keepdim=True)
            else:
                next_actions = next_target.argmax(dim=1, keepdim=True)
            next_v = next_target.gather(1, next_actions).squeeze(1)
            y = batch.returns + batch.discounts * next_v
        if self.kind == "mse":
            per_sample = F.mse_loss(q, y, reduction="none")
        else:
            per_sample = F.smooth_l1_loss(q, y, reduction="none")
        return LossOutput(
            weighted_mean(per_sample, batch.weights), (y - q).abs().detach(), q.mean()
        )


OBJECTIVES: dict[str, Callable[..., Objective]] = {"scalar": ScalarQ}


def make_objective(name: str, params: Any) -> Objective:
    """The objective `name`, configured from the learner's params (each reads its own keys)."""
    if name not in OBJECTIVES:
        raise DrlrunError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](params)
