"""QR-DQN (Dabney et al. 2017, `algo.objective=qr`): N quantiles of the return trained with
the quantile Huber loss; the book's (chapter 7) suggested fix for C51's fixed support."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from drlrun.algos.q.losses.base import LossOutput, QLoss, TDBatch, loss_params, weighted_mean
from drlrun.algos.q.losses.c51 import next_greedy, pick
from drlrun.errors import DrlrunError
from drlrun.registry import register


@dataclass
class QRParams:
    quantiles: int = 200
    kappa: float = 1.0


def quantile_huber_loss(
    quantiles: torch.Tensor, targets: torch.Tensor, kappa: float
) -> torch.Tensor:
    """Per-sample quantile Huber loss (Dabney et al. 2017, eq. 10), shape (B,).

    quantiles (B, N) at midpoints tau_i = (2i + 1) / 2N, targets (B, N'). For each pair the
    error u = target_j - theta_i is weighted by |tau_i - 1{u < 0}| and Huber-ised with
    threshold kappa (kappa = 0: the plain quantile loss |u|); summed over i, averaged over j."""
    n = quantiles.shape[1]
    tau = (torch.arange(n, device=quantiles.device, dtype=quantiles.dtype) + 0.5) / n
    u = targets.unsqueeze(1) - quantiles.unsqueeze(2)  # (B, N, N')
    if kappa > 0:
        huber = torch.where(u.abs() <= kappa, 0.5 * u.pow(2), kappa * (u.abs() - 0.5 * kappa))
        huber = huber / kappa
    else:
        huber = u.abs()
    weight = (tau.view(1, -1, 1) - (u.detach() < 0).to(u.dtype)).abs()
    return (weight * huber).mean(dim=2).sum(dim=1)


class QuantileQ(QLoss):
    """QR-DQN: the head outputs N quantiles (B, A, N) of the return; Q is their mean."""

    def __init__(self, params: Any):
        self.atoms = int(params.quantiles)
        self.kappa = float(params.kappa)
        if self.atoms < 1 or self.kappa < 0:
            raise DrlrunError("algo.quantiles must be >= 1 and algo.kappa >= 0")

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        return out.mean(dim=-1)

    supports_numpy_q = True

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        return out.mean(axis=-1)

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        with torch.no_grad():
            next_quantiles = target(batch.next_obs)
            a_star = next_greedy(online, batch.next_obs, next_quantiles.mean(-1), double, self)
            targets = batch.returns.unsqueeze(1) + batch.discounts.unsqueeze(1) * pick(
                next_quantiles, a_star
            )
        quantiles = pick(online(batch.obs), batch.actions)
        per_sample = quantile_huber_loss(quantiles, targets, self.kappa)
        td_abs = (targets.mean(1) - quantiles.mean(1)).abs().detach()
        return LossOutput(weighted_mean(per_sample, batch.weights), td_abs, quantiles.mean())

    probes = ("qr",)  # quantile figures and the eval-video panel (viz/distributions.py)


@register("loss", "qr")
@loss_params(QRParams)
def build_qr(params: Any, core: Any) -> QuantileQ:
    return QuantileQ(params)
