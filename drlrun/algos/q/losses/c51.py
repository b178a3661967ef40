"""C51 (Bellemare et al. 2017, `algo.objective=c51`): a categorical return distribution on a
fixed support, trained by cross-entropy against the projected target r + gamma^n (1 - done) z;
and its autograd-free kernel. The book's chapter 7 algorithm (its own flat-vector version with
the book's quirks is drlrun/book/dist_dqn.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from drlrun.algos.q.losses.base import LossOutput, QLoss, TDBatch, loss_params, weighted_mean
from drlrun.algos.q.losses.kernel import MLPKernel, MLPKernelLoss
from drlrun.errors import DrlrunError
from drlrun.registry import register


@dataclass
class C51Params:
    atoms: int = 51
    v_min: float = -10.0
    v_max: float = 10.0


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
    online: nn.Module, next_obs: torch.Tensor, target_q: torch.Tensor, double: bool, obj: QLoss
) -> torch.Tensor:
    """a* = argmax of expected values: the target net's own (DQN) or the online net's (Double)."""
    q = obj.q_values(online(next_obs)) if double else target_q
    return q.argmax(dim=1)


def pick(values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """(B, A, K) -> (B, K) rows of the given actions."""
    index = actions.view(-1, 1, 1).expand(-1, 1, values.shape[-1])
    return values.gather(1, index).squeeze(1)


class CategoricalQ(MLPKernelLoss):
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

    probes = ("c51",)  # distributions figures and the eval-video panel (viz/distributions.py)


class C51Kernel(MLPKernel):
    """`CategoricalQ.loss` and its gradient without autograd (C51 on an MLP)."""

    def head_loss(
        self, logits_flat: torch.Tensor, batch: TDBatch, double: bool
    ) -> tuple[LossOutput, torch.Tensor]:
        """Cross-entropy against the projected target and its gradient wrt the logits:
        softmax(logits_a) * sum(m) - m on the taken action's row."""
        objective: CategoricalQ = self.loss
        size, atoms = logits_flat.shape[0], objective.atoms
        m = objective.target_distribution(self.online_net, self.target_net, batch, double)
        logits = logits_flat.view(size, -1, atoms)
        index = batch.actions.view(-1, 1, 1).expand(-1, 1, atoms)
        log_p = logits.gather(1, index).squeeze(1).log_softmax(dim=-1)
        p = log_p.exp()
        cross_entropy = -(m * log_p).sum(dim=-1)
        d_logits = p * m.sum(dim=-1, keepdim=True) - m
        loss, grad_out = self.weighted(cross_entropy, d_logits, batch.weights, logits, index)
        q = (p * objective._support(p)).sum(dim=-1)
        return LossOutput(loss, cross_entropy, q.mean()), grad_out.view(size, -1)


CategoricalQ.kernel_class = C51Kernel


@register("loss", "c51")
@loss_params(C51Params)
def build_c51(params: Any, core: Any) -> CategoricalQ:
    return CategoricalQ(params)


def expected_value(probs: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """E[Z] = sum_k z_k p_k over the last axis (book: support @ probs)."""
    return probs @ support.to(probs.dtype)


__all__ = [
    "CategoricalQ",
    "expected_value",
    "make_support",
    "project_categorical",
    "project_categorical_reference",
]
