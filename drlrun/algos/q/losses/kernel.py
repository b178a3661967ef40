"""The autograd-free machinery for small MLP Q-networks on CPU, shared by the losses' kernels.

With a 64-64 MLP and batch 64, one update is ~35 tiny tensor ops whose per-op and autograd
bookkeeping cost far exceeds the arithmetic. `MLPKernel` runs the forward passes and the
hand-written backprop (a handful of matmuls) straight into FlatAdam's flat gradient buffer; each
loss supplies the gradient of its loss wrt the head output beside its autograd version
(losses/scalar.py, losses/c51.py) and decides itself when it applies (`QLoss.kernel`).
`NumpyMLPActor` picks greedy actions from numpy views of the weights for any loss that maps head
outputs to Q in numpy (DQN, C51, QR). Tests compare the kernels' gradients with autograd's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from drlrun.algos.optim import FlatAdam
from drlrun.algos.q.losses.base import Kernel, LossOutput, QLoss, TDBatch
from drlrun.nets.base import Activation, activation_of
from drlrun.nets.heads import LinearHead, QNetwork
from drlrun.nets.mlp import MLP


def _activation(torso: MLP) -> Activation | None:
    """The torso's activation when the kernels know its backward and numpy forms."""
    act = activation_of(torso.act)
    return act if act is not None and act.backward is not None else None


def plain_mlp_q(online: nn.Module, device: torch.device) -> bool:
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


def numpy_actor_supported(online: nn.Module, loss: object, device: torch.device) -> bool:
    """True when `NumpyMLPActor` computes the network's head outputs exactly (up to float
    rounding) and the loss can turn them into Q-values in numpy."""
    return getattr(loss, "supports_numpy_q", False) and plain_mlp_q(online, device)


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


class MLPKernel(Kernel):
    """A TD loss gradient of a `plain_mlp_q` network without autograd, written straight into
    `optimizer`'s flat gradient buffer (then `optimizer.step_on_grad_buffer()` applies it).
    A loss's kernel subclasses it and supplies `head_loss`: the loss and its gradient wrt the
    head output."""

    def __init__(self, online: QNetwork, target: QNetwork, optimizer: FlatAdam, loss: Any):
        self.loss = loss
        torso = online.torso
        act = _activation(torso)
        assert act is not None and act.backward is not None
        self.act_fn, self.act_grad = act.fn, act.backward
        self.online_net, self.target_net = online, target
        self.obs_scale = float(torso.obs_scale)
        self.online, self.target = _layers(online), _layers(target)
        self.grads = [
            (optimizer.grad_view(m.weight), optimizer.grad_view(m.bias))
            for m in mlp_q_linears(online)
        ]

    def forward(self, layers: list[_Layer], x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (activations for hidden layers, head outputs last)."""
        outs = []
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            x = torch.addmm(layer.bias, x, layer.weight_t)
            if i < last:
                x = self.act_fn(x)
            outs.append(x)
        return outs

    def inputs(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], -1).float()
        return x / self.obs_scale if self.obs_scale != 1.0 else x

    def head_loss(
        self, out: torch.Tensor, batch: TDBatch, double: bool
    ) -> tuple[LossOutput, torch.Tensor]:
        """(the loss, d loss / d head output) for the online head outputs `out`."""
        raise NotImplementedError

    @staticmethod
    def weighted(
        per_sample: torch.Tensor,
        d_taken: torch.Tensor,
        weights: torch.Tensor | None,
        out: torch.Tensor,
        index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch loss (mean, under importance weights if any) and its gradient wrt the head
        output `out`: `d_taken`, the per-sample gradient at the taken action's entries, weighted
        and averaged like the loss and scattered there (zeros elsewhere)."""
        if weights is None:
            loss = per_sample.mean()
        else:
            loss = (per_sample * weights).mean()
            d_taken.mul_(weights.view(-1, *([1] * (d_taken.dim() - 1))))
        d_taken.mul_(1.0 / per_sample.shape[0])
        return loss, torch.zeros_like(out).scatter_(1, index, d_taken.unsqueeze(1))

    def loss_and_grad(self, batch: TDBatch, double: bool) -> LossOutput:
        """The loss for `batch`; its gradient goes into the optimiser's buffer."""
        x = self.inputs(batch.obs)
        acts = self.forward(self.online, x)
        out, grad_out = self.head_loss(acts[-1], batch, double)
        for i in range(len(self.online) - 1, -1, -1):
            layer_input = acts[i - 1] if i > 0 else x
            grad_w, grad_b = self.grads[i]
            torch.mm(grad_out.t(), layer_input, out=grad_w)
            torch.sum(grad_out, dim=0, out=grad_b)
            if i > 0:
                grad_out = self.act_grad(grad_out @ self.online[i].weight, acts[i - 1])
        return out


class MLPKernelLoss(QLoss):
    """A loss that has an `MLPKernel` (its class in `kernel_class`): it offers the kernel for a
    `plain_mlp_q` network whose head matches it, when `kernel_exact()` says its options are
    the ones the kernel mirrors."""

    kernel_class: type[MLPKernel]

    def kernel_exact(self) -> bool:
        return True

    def kernel(
        self, online: nn.Module, target: nn.Module, optimizer: FlatAdam, device: torch.device
    ) -> Kernel | None:
        fits = plain_mlp_q(online, device) and online.head.atoms == self.atoms
        return (
            self.kernel_class(online, target, optimizer, self)
            if fits and self.kernel_exact()
            else None
        )
