"""Optimisers for small networks, where per-tensor overhead dominates on CPU.

`FlatAdam` makes every parameter of a module a view into one contiguous buffer, so gradient
clipping is one norm and the Adam step one fused kernel instead of one per tensor (measured
~100 us less per update for a 64-64 MLP on one CPU thread). The module's own parameters stay
registered as usual: forward passes, state_dicts and target syncs are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def make_adam(params: list[torch.Tensor], lr: float, eps: float) -> torch.optim.Adam:
    """Adam, fused where torch supports it (about 1.7x faster steps for small CPU nets)."""
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError):  # older torch or an unsupported device
        return torch.optim.Adam(params, lr=lr, eps=eps)


class FlatAdam:
    """Adam (and optional global-norm clipping) over all parameters of `module` as one tensor."""

    def __init__(self, module: nn.Module, lr: float, eps: float, max_grad_norm: float | None):
        self.params = [p for p in module.parameters() if p.requires_grad]
        with torch.no_grad():
            self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.params]))
            self._offsets: dict[int, int] = {}
            offset = 0
            for p in self.params:
                n = p.numel()
                p.data = self.flat.data[offset : offset + n].view_as(p)
                self._offsets[id(p)] = offset
                offset += n
        self.max_grad_norm = max_grad_norm
        self._flat_grad: torch.Tensor | None = None
        self.adam = make_adam([self.flat], lr, eps)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def grad_view(self, param: nn.Parameter) -> torch.Tensor:
        """`param`'s slice of a persistent flat gradient buffer, for code that computes
        gradients itself and then calls `step_on_grad_buffer`."""
        if self._flat_grad is None:
            self._flat_grad = torch.zeros_like(self.flat.data)
        offset = self._offsets[id(param)]
        return self._flat_grad[offset : offset + param.numel()].view_as(param)

    def step_on_grad_buffer(self) -> None:
        """Clip and step on the gradient written into the `grad_view` buffers."""
        assert self._flat_grad is not None, "grad_view() first"
        self._clip_and_step(self._flat_grad)

    def _clip_and_step(self, grad: torch.Tensor) -> None:
        if self.max_grad_norm is not None:
            scale = self.max_grad_norm / (grad.norm() + 1e-6)
            grad.mul_(scale.clamp(max=1.0))  # torch.nn.utils.clip_grad_norm_'s rule
        self.flat.grad = grad
        self._adam_step()

    @torch.no_grad()
    def _adam_step(self) -> None:
        """`self.adam.step()`, calling the fused kernel directly once its state exists: the same
        arithmetic (bit-identical) without ~100 us of per-step Python bookkeeping."""
        state = self.adam.state.get(self.flat)
        group = self.adam.param_groups[0]
        if not state or not group.get("fused") or group["amsgrad"] or group["maximize"]:
            self.adam.step()
            return
        beta1, beta2 = group["betas"]
        state["step"].add_(1)
        torch._fused_adam_(
            [self.flat],
            [self.flat.grad],
            [state["exp_avg"]],
            [state["exp_avg_sq"]],
            [],
            [state["step"]],
            amsgrad=False,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            maximize=False,
        )

    def step(self) -> None:
        grad = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in self.params
            ]
        )
        self._clip_and_step(grad)

    def state_dict(self) -> dict[str, Any]:
        return self.adam.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.adam.load_state_dict(state)
