"""Autograd-free DQN update and acting for small MLP Q-networks on CPU.

With a 64-64 MLP and batch 64, one update is ~35 tiny tensor ops whose per-op and autograd
bookkeeping cost far exceeds the arithmetic. This kernel computes the same TD loss, gradient
(hand-written backprop: a handful of matmuls) directly, and `NumpyMLPActor` picks greedy
actions from numpy views of the weights (for any objective that maps head outputs to Q in numpy:
DQN, C51, QR). The kernel applies only where it is exact — the plain `scalar` objective (DQN /
Double DQN, Huber or MSE, optional importance weights) and C51's cross-entropy, on an `mlp` torso
without layer norm and a linear head — and `algo.fast_path=auto` falls back to autograd
everywhere else. Tests compare its gradients with autograd's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.algos.objectives import LossOutput, Objective, ScalarQ, TDBatch
from drlrun.algos.optim import FlatAdam
from drlrun.nets.base import Activation, activation_of
from drlrun.nets.heads import LinearHead, QNetwork
from drlrun.nets.mlp import MLP


def _activation(torso: MLP) -> Activation | None:
    """The torso's activation when the kernels know its backward and numpy forms."""
    act = activation_of(torso.act)
    return act if act is not None and act.backward is not None else None


def _plain_mlp_q(online: nn.Module, device: torch.device) -> bool:
    """An MLP torso (no layer norm, relu/tanh) under a linear head, on the CPU."""
    return (
        device.type == "cpu"
        and isinstance(online, QNetwork)
        and isinstance(online.torso, MLP)
        and online.torso.norms is None
        and _activation(online.torso) is not None
        and isinstance(online.head, LinearHead)
    )


def mlp_q_linears(net: QNetwork) -> list[nn.Linear]:
    """The layers of a `_plain_mlp_q` network, input to output."""
    return [*net.torso.linears, net.head.out]


def fast_path_supported(online: nn.Module, objective: object, device: torch.device) -> bool:
    """True when `MLPQKernel` computes exactly what the autograd path would: the plain scalar
    objective (DQN / Double DQN) or C51's categorical one, on an MLP with a linear head."""
    from drlrun.algos.distributional import CategoricalQ  # it imports the DQN learner

    plain_scalar = type(objective) is ScalarQ and objective.is_plain()
    return (
        (plain_scalar or type(objective) is CategoricalQ)
        and _plain_mlp_q(online, device)
        and online.head.atoms == objective.atoms
    )


def numpy_actor_supported(online: nn.Module, objective: object, device: torch.device) -> bool:
    """True when `NumpyMLPActor` computes the network's head outputs exactly (up to float
    rounding) and the objective can turn them into Q-values in numpy."""
    return getattr(objective, "supports_numpy_q", False) and _plain_mlp_q(online, device)


class NumpyMLPActor:
    """Head outputs of an MLP Q-network for a few observations, computed in numpy over views
    of the live weights: acting costs a few microseconds instead of a torch forward's ~50.
    In-place optimiser steps and checkpoint loads are seen without copying."""

    def __init__(self, online: QNetwork):
        torso = online.torso
        act = _activation(torso)
        assert act is not None and act.numpy is not None
        self.np_act = act.numpy
        self.obs_scale = np.float32(torso.obs_scale)
        self.actions, self.atoms = online.head.actions, online.head.atoms
        self.layers = [
            (m.weight.detach().numpy(), m.bias.detach().numpy()) for m in mlp_q_linears(online)
        ]

    def head_outputs(self, obs: np.ndarray) -> np.ndarray:
        """(B, actions) or, with atoms, (B, actions, atoms) float32."""
        x = obs.reshape(len(obs), -1).astype(np.float32)
        if self.obs_scale != 1.0:
            x /= self.obs_scale
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T
            x += b
            if i < last:
                self.np_act(x)
        return x if self.atoms == 1 else x.reshape(len(obs), self.actions, self.atoms)


@dataclass
class _Layer:
    weight: torch.Tensor  # (out, in), the live parameter data
    weight_t: torch.Tensor  # (in, out), a transposed view of the same memory
    bias: torch.Tensor  # (out,)


def _layers(net: QNetwork) -> list[_Layer]:
    return [
        _Layer(m.weight.detach(), m.weight.detach().t(), m.bias.detach())
        for m in mlp_q_linears(net)
    ]


class MLPQKernel:
    """The TD loss gradient of an MLP Q-network without autograd, written straight into
    `optimizer`'s flat gradient buffer (then `optimizer.step_on_grad_buffer()` applies it)."""

    def __init__(
        self, online: QNetwork, target: QNetwork, objective: Objective, optimizer: FlatAdam
    ):
        from drlrun.algos.distributional import CategoricalQ  # it imports the DQN learner

        torso = online.torso
        act = _activation(torso)
        assert act is not None and act.backward is not None
        self.act_fn, self.act_grad = act.fn, act.backward
        self.online_net, self.target_net = online, target
        self.categorical: Any = objective if isinstance(objective, CategoricalQ) else None
        self.huber = getattr(objective, "kind", "huber") != "mse"
        self.obs_scale = float(torso.obs_scale)
        self.online, self.target = _layers(online), _layers(target)
        self.grads = [
            (optimizer.grad_view(m.weight), optimizer.grad_view(m.bias))
            for m in mlp_q_linears(online)
        ]

    # --- learning -----------------------------------------------------------------------------
    def _forward(self, layers: list[_Layer], x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (activations for hidden layers, Q-values last)."""
        outs = []
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            x = torch.addmm(layer.bias, x, layer.weight_t)
            if i < last:
                x = self.act_fn(x)
            outs.append(x)
        return outs

    def _inputs(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], -1).float()
        return x / self.obs_scale if self.obs_scale != 1.0 else x

    def loss_and_grad(self, batch: TDBatch, double: bool) -> LossOutput:
        """The objective's loss for `batch`; its gradient goes into the optimiser's buffer."""
        x = self._inputs(batch.obs)
        acts = self._forward(self.online, x)
        if self.categorical is not None:
            out, grad_out = self._categorical_loss(acts[-1], batch, double)
        else:
            out, grad_out = self._scalar_loss(acts[-1], batch, double)
        for i in range(len(self.online) - 1, -1, -1):
            layer_input = acts[i - 1] if i > 0 else x
            grad_w, grad_b = self.grads[i]
            torch.mm(grad_out.t(), layer_input, out=grad_w)
            torch.sum(grad_out, dim=0, out=grad_b)
            if i > 0:
                grad_out = self.act_grad(grad_out @ self.online[i].weight, acts[i - 1])
        return out

    def _scalar_loss(
        self, q_all: torch.Tensor, batch: TDBatch, double: bool
    ) -> tuple[LossOutput, torch.Tensor]:
        """Huber/MSE TD loss and its gradient wrt the head output (ScalarQ.loss)."""
        next_x = self._inputs(batch.next_obs)
        size = q_all.shape[0]
        next_q = self._forward(self.target, next_x)[-1]
        if double:
            next_actions = self._forward(self.online, next_x)[-1].argmax(dim=1, keepdim=True)
        else:
            next_actions = next_q.argmax(dim=1, keepdim=True)
        y = batch.returns + batch.discounts * next_q.gather(1, next_actions).squeeze(1)
        index = batch.actions.view(-1, 1)
        q = q_all.gather(1, index).squeeze(1)
        diff = q - y
        # d loss / d q per sample: smooth_l1 (beta 1) -> clamp(diff, -1, 1); mse -> 2 diff
        if self.huber:
            per_sample = F.smooth_l1_loss(q, y, reduction="none")
            d_q = diff.clamp(-1.0, 1.0)
        else:
            per_sample = diff.square()
            d_q = diff.mul(2.0)
        if batch.weights is None:
            loss = per_sample.mean()
        else:
            loss = per_sample.mul_(batch.weights).mean()
            d_q.mul_(batch.weights)
        d_q.mul_(1.0 / size)
        grad_out = torch.zeros_like(q_all).scatter_(1, index, d_q.unsqueeze(1))
        return LossOutput(loss, diff.abs(), q.mean()), grad_out

    def _categorical_loss(
        self, logits_flat: torch.Tensor, batch: TDBatch, double: bool
    ) -> tuple[LossOutput, torch.Tensor]:
        """C51 cross-entropy against the projected target and its gradient wrt the logits
        (CategoricalQ.loss): softmax(logits_a) * sum(m) - m on the taken action's row."""
        objective = self.categorical
        size, atoms = logits_flat.shape[0], objective.atoms
        m = objective.target_distribution(self.online_net, self.target_net, batch, double)
        logits = logits_flat.view(size, -1, atoms)
        index = batch.actions.view(-1, 1, 1).expand(-1, 1, atoms)
        log_p = logits.gather(1, index).squeeze(1).log_softmax(dim=-1)
        p = log_p.exp()
        cross_entropy = -(m * log_p).sum(dim=-1)
        d_logits = p * m.sum(dim=-1, keepdim=True) - m
        if batch.weights is None:
            loss = cross_entropy.mean()
        else:
            loss = (cross_entropy * batch.weights).mean()
            d_logits.mul_(batch.weights.unsqueeze(1))
        d_logits.mul_(1.0 / size)
        grad_out = torch.zeros_like(logits).scatter_(1, index, d_logits.unsqueeze(1))
        q = (p * objective._support(p)).sum(dim=-1)
        return LossOutput(loss, cross_entropy, q.mean()), grad_out.view(size, -1)
