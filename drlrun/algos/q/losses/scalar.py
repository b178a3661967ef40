"""DQN's TD loss (`algo.objective=scalar`): Q(s,a) regressed on r + gamma^n Q'(s', a*), a*
greedy under the target net (Double DQN: under the online net), Huber or MSE; and its kernel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.algos.q.losses.base import LossOutput, TDBatch, loss_params, weighted_mean
from drlrun.algos.q.losses.kernel import MLPKernel, MLPKernelLoss
from drlrun.registry import register


@dataclass
class ScalarParams:
    loss: Literal["mse", "huber"] = "mse"
    # "current": the book's ch. 10 Double DQN bug, a* = argmax_a Q_online(s_t, a)
    double_argmax: Literal["next", "current"] = "next"


class ScalarQ(MLPKernelLoss):
    """Classic DQN: Q(s,a) regressed on r + gamma^n * Q'(s', a*), a* greedy (Double: online)."""

    supports_numpy_q = True

    def __init__(self, params: Any):
        self.kind = params.loss
        self.argmax_on_current = params.double_argmax == "current"

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        return out

    def is_plain(self) -> bool:
        """True when `loss` is the textbook rule above, which `ScalarKernel` mirrors; an option
        that changes the loss must make this False (or teach the kernel)."""
        return self.kind in ("mse", "huber") and not self.argmax_on_current

    kernel_exact = is_plain

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


class ScalarKernel(MLPKernel):
    """`ScalarQ.loss` and its gradient without autograd (plain DQN / Double DQN on an MLP)."""

    def head_loss(
        self, q_all: torch.Tensor, batch: TDBatch, double: bool
    ) -> tuple[LossOutput, torch.Tensor]:
        """Huber/MSE TD loss and its gradient wrt the head output."""
        next_x = self.inputs(batch.next_obs)
        next_q = self.forward(self.target, next_x)[-1]
        if double:
            next_actions = self.forward(self.online, next_x)[-1].argmax(dim=1, keepdim=True)
        else:
            next_actions = next_q.argmax(dim=1, keepdim=True)
        y = batch.returns + batch.discounts * next_q.gather(1, next_actions).squeeze(1)
        index = batch.actions.view(-1, 1)
        q = q_all.gather(1, index).squeeze(1)
        diff = q - y
        # d loss / d q per sample: smooth_l1 (beta 1) -> clamp(diff, -1, 1); mse -> 2 diff
        if self.loss.kind != "mse":  # huber
            per_sample = F.smooth_l1_loss(q, y, reduction="none")
            d_q = diff.clamp(-1.0, 1.0)
        else:
            per_sample = diff.square()
            d_q = diff.mul(2.0)
        loss, grad_out = self.weighted(per_sample, d_q, batch.weights, q_all, index)
        return LossOutput(loss, diff.abs(), q.mean()), grad_out


@register("loss", "scalar")
@loss_params(ScalarParams)
def build_scalar(params: Any, core: Any) -> ScalarQ:
    return ScalarQ(params)


ScalarQ.kernel_class = ScalarKernel
