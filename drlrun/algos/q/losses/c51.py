"""Distributional TD objectives for the one DQN learner: C51 and QR-DQN.

C51 (Bellemare et al. 2017) learns a categorical distribution over a fixed support and trains it
by cross-entropy against the projected target r + gamma^n * (1 - done) * z. QR-DQN (Dabney et
al. 2017) learns N quantiles of the return and trains them with the quantile Huber loss — the
book's (chapter 7) suggested fix for the fixed support. Both plug into `drlrun.algos.dqn` through
the OBJECTIVES table, so acting, replay (uniform or prioritized), n-step and target syncing are
shared with DQN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from drlrun.algos.dqn import build_dqn
from drlrun.algos.objectives import OBJECTIVES, LossOutput, Objective, TDBatch, weighted_mean
from drlrun.errors import DrlrunError
from drlrun.registry import register


def make_support(v_min: float, v_max: float, atoms: int) -> torch.Tensor:
    """The fixed atoms z_0..z_{K-1}, evenly spaced on [v_min, v_max] (book: linspace(-10, 10, 51))."""
    if atoms < 2 or not v_min < v_max:
        raise DrlrunError(f"need atoms >= 2 and v_min < v_max, got {atoms}, [{v_min}, {v_max}]")
    return torch.linspace(v_min, v_max, atoms)


def project_categorical(
    next_probs: torch.Tensor, returns: torch.Tensor, discounts: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """C51's projection of r + d * z onto the support, for a whole batch at once.

    next_probs (B, K) are the next-state distributions, returns/discounts (B,) already hold the
    n-step return and gamma^n * (1 - done). Each shifted atom b = (Tz - v_min) / dz splits its
    mass between l = floor(b) and l + 1 in proportion to the distance; when b lands exactly on an
    atom (l == u) the upper share is 0, so all of it stays on l. Two scatter_adds along the atoms
    (no loop over samples or atoms; ~2.5x faster on CPU than one index_add over cat'ed indices).
    """
    atoms = next_probs.shape[1]
    v_min, v_max = float(support[0]), float(support[-1])
    dz = (v_max - v_min) / (atoms - 1)
    tz = torch.addcmul(returns.unsqueeze(1), discounts.unsqueeze(1), support)
    b = tz.clamp_(v_min, v_max).sub_(v_min).div_(dz).clamp_(0, atoms - 1)
    lower = b.floor()
    upper_share = next_probs * b.sub_(lower)  # b - l in [0, 1)
    lower_index = lower.long()
    upper_index = (lower_index + 1).clamp_(max=atoms - 1)  # b = K - 1: share 0, index kept valid
    out = torch.zeros_like(next_probs)
    out.scatter_add_(1, lower_index, next_probs - upper_share)
    out.scatter_add_(1, upper_index, upper_share)
    return out


def project_categorical_reference(
    next_probs: torch.Tensor, returns: torch.Tensor, discounts: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """Per-sample, per-atom loops of the same projection (Bellemare et al. 2017, Algorithm 1).

    Kept as the reference for tests and the speed benchmark; never used for training."""
    batch, atoms = next_probs.shape
    v_min, v_max = float(support[0]), float(support[-1])
    dz = (v_max - v_min) / (atoms - 1)
    out = torch.zeros_like(next_probs)
    for i in range(batch):
        r, d = float(returns[i]), float(discounts[i])
        for j in range(atoms):
            tz = min(max(r + d * float(support[j]), v_min), v_max)
            b = (tz - v_min) / dz
            lo, up = int(b // 1), -int(-b // 1)
            p = float(next_probs[i, j])
            if lo == up:
                out[i, lo] += p
            else:
                out[i, lo] += p * (up - b)
                out[i, up] += p * (b - lo)
    return out


def next_greedy(
    online: nn.Module, next_obs: torch.Tensor, target_q: torch.Tensor, double: bool, obj: Objective
) -> torch.Tensor:
    """a* = argmax of expected values: the target net's own (DQN) or the online net's (Double)."""
    q = obj.q_values(online(next_obs)) if double else target_q
    return q.argmax(dim=1)


def pick(values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """(B, A, K) -> (B, K) rows of the given actions."""
    index = actions.view(-1, 1, 1).expand(-1, 1, values.shape[-1])
    return values.gather(1, index).squeeze(1)


class CategoricalQ(Objective):
    """C51: the head outputs logits (B, A, atoms); Q is the expected value over the support."""

    def __init__(self, params: Any):
        self.atoms = int(params.atoms)
        self.support = make_support(params.v_min, params.v_max, self.atoms)
        self.support_numpy = self.support.numpy().astype(np.float32)

    def _support(self, like: torch.Tensor) -> torch.Tensor:
        if self.support.device != like.device or self.support.dtype != like.dtype:
            self.support = self.support.to(like.device, like.dtype)
        return self.support

    def probs(self, out: torch.Tensor) -> torch.Tensor:
        return out.softmax(dim=-1)

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        return self.probs(out) @ self._support(out)

    supports_numpy_q = True

    def q_values_numpy(self, out: np.ndarray) -> np.ndarray:
        logits = out - out.max(axis=-1, keepdims=True)
        np.exp(logits, out=logits)
        return (logits @ self.support_numpy) / logits.sum(axis=-1)

    def target_distribution(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> torch.Tensor:
        """Projected distribution of r + gamma^n (1 - done) Z'(s', a*), (B, atoms)."""
        with torch.no_grad():
            next_probs = self.probs(target(batch.next_obs))
            z = self._support(next_probs)
            a_star = next_greedy(online, batch.next_obs, next_probs @ z, double, self)
            return project_categorical(pick(next_probs, a_star), batch.returns, batch.discounts, z)

    def loss(
        self, online: nn.Module, target: nn.Module, batch: TDBatch, double: bool
    ) -> LossOutput:
        m = self.target_distribution(online, target, batch, double)
        logits = pick(online(batch.obs), batch.actions)
        log_p = logits.log_softmax(dim=-1)
        cross_entropy = -(m * log_p).sum(dim=-1)
        q = (log_p.detach().exp() * self._support(log_p)).sum(dim=-1)
        return LossOutput(
            weighted_mean(cross_entropy, batch.weights), cross_entropy.detach(), q.mean()
        )

    def plots(self, learner: Any, run_dir: Path) -> list[Path]:
        from drlrun.algos.dist_plots import c51_plots

        return c51_plots(learner, run_dir)

    def frame_panel(self, learner: Any, obs: Any, height: int) -> Any:
        from drlrun.algos.dist_plots import c51_panel

        return c51_panel(learner, obs, height)


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


class QuantileQ(Objective):
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

    def plots(self, learner: Any, run_dir: Path) -> list[Path]:
        from drlrun.algos.dist_plots import qr_plots

        return qr_plots(learner, run_dir)

    def frame_panel(self, learner: Any, obs: Any, height: int) -> Any:
        from drlrun.algos.dist_plots import qr_panel

        return qr_panel(learner, obs, height)


OBJECTIVES["c51"] = CategoricalQ
OBJECTIVES["qr"] = QuantileQ
register("algo", "dist_dqn")(build_dqn)
register("algo", "qr_dqn")(build_dqn)


def expected_value(probs: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """E[Z] = sum_k z_k p_k over the last axis (book: support @ probs)."""
    return probs @ support.to(probs.dtype)


__all__ = [
    "CategoricalQ",
    "QuantileQ",
    "expected_value",
    "make_support",
    "project_categorical",
    "project_categorical_reference",
    "quantile_huber_loss",
]
