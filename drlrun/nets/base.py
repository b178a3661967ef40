"""Shared pieces for torsos: the Torso interface, activations, and the torso builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlrun.errors import DrlrunError

B = TypeVar("B", bound=Callable[..., Any])


@dataclass(frozen=True)
class Activation:
    """One activation in every form drlrun uses: the module (nets), the plain function (hot
    forward paths), and, where the autograd-free kernels support it, its backward
    (grad wrt output, output) -> grad wrt input, and an in-place numpy version (fast acting)."""

    module: type[nn.Module]
    fn: Callable[[torch.Tensor], torch.Tensor]
    backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    numpy: Callable[[np.ndarray], np.ndarray] | None = None


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        nn.ReLU,
        torch.relu,
        lambda grad, out: torch.ops.aten.threshold_backward(grad, out, 0),
        lambda x: np.maximum(x, 0.0, out=x),
    ),
    "tanh": Activation(
        nn.Tanh, torch.tanh, torch.ops.aten.tanh_backward, lambda x: np.tanh(x, out=x)
    ),
    "elu": Activation(nn.ELU, nn.functional.elu),
    "selu": Activation(nn.SELU, torch.selu),
    "gelu": Activation(nn.GELU, nn.functional.gelu),
    "silu": Activation(nn.SiLU, nn.functional.silu),
}


def get_activation(name: str) -> Activation:
    if name not in ACTIVATIONS:
        raise DrlrunError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def activation_of(fn: Callable[..., Any]) -> Activation | None:
    """The table entry whose plain function is `fn` (None: not one of ours)."""
    return next((a for a in ACTIVATIONS.values() if a.fn is fn), None)


def functional_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation as a plain function (no module-call overhead on hot paths)."""
    return get_activation(name).fn


def activation(name: str) -> nn.Module:
    return get_activation(name).module()


def conv_relu(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, norm: str = "none"
) -> list[nn.Module]:
    """Conv2d -> (norm="layer": GroupNorm(1, C), each sample normalised over its own channels
    and cells, no batch statistics, so one state acts as it would in a batch) -> ReLU."""
    if norm not in ("none", "layer"):
        raise DrlrunError(f"net.conv_norm must be none or layer, got {norm!r}")
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride=stride)]
    if norm == "layer":
        layers.append(nn.GroupNorm(1, out_channels))
    return [*layers, nn.ReLU()]


def one_hot_codes(obs: torch.Tensor, levels: tuple[int, ...]) -> torch.Tensor:
    """(batch, C, H, W) integer codes -> (batch, sum(levels), H, W) floats, channel c one-hot
    over its `levels[c]` categories (MiniGrid's object / colour / state indices)."""
    codes = obs.long()
    parts = [F.one_hot(codes[:, c].clamp(0, n - 1), n) for c, n in enumerate(levels)]
    return torch.cat(parts, dim=-1).permute(0, 3, 1, 2).float()


def whole_network(builder: B) -> B:
    """Mark a net builder whose net is a family's whole network (inputs to one value per action,
    e.g. the multi-agent team Q network), not a torso under the Q learner's heads: only the
    algorithms that name it in `@accepts(nets=(...))` take it."""
    builder.whole_network = True  # type: ignore[attr-defined]
    return builder


class Torso(nn.Module):
    """A feature extractor: raw observation batch -> (batch, out_features).

    `obs_scale` divides the (possibly uint8) input so the buffer can keep raw bytes."""

    out_features: int
    probes: tuple[str, ...] = ()  # probes that show what this torso computes (drlrun.viz.probe)
    channels_last = False  # image inputs in NHWC memory (set by `use_channels_last`)
    autocast_dtype: torch.dtype | None = None  # lower-precision forward (set by `use_precision`)

    def __init__(self, obs_scale: float = 1.0):
        super().__init__()
        self.obs_scale = obs_scale

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.autocast_dtype is None:
            return super().__call__(*args, **kwargs)
        device = args[0].device.type if args and isinstance(args[0], torch.Tensor) else "cpu"
        with torch.autocast(device, dtype=self.autocast_dtype):
            features = super().__call__(*args, **kwargs)
        return features.float()  # heads, losses and the optimiser's master weights stay fp32

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        x = x / self.obs_scale if self.obs_scale != 1.0 else x
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def use_channels_last(module: nn.Module) -> nn.Module:
    """Run `module`'s convolutions in NHWC memory (device.channels_last): its 4-D weights and
    every torso's image input. oneDNN's CPU convolutions are faster in that layout (ICM's
    encoder: ~1.5x forward+backward at batch 300 here); the values are those of NCHW up to
    float rounding."""
    for sub in module.modules():
        if isinstance(sub, Torso):
            sub.channels_last = True
    return module.to(memory_format=torch.channels_last)


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def use_precision(module: nn.Module, precision: str) -> nn.Module:
    """Run every feedforward torso in `module` under autocast at `precision` (device.precision):
    convolutions and matmuls in bf16 (this CPU's AVX-512 BF16 units, or a GPU's tensor cores),
    weights, heads, losses and Adam in fp32. Sequence torsos return state tuples and stay fp32."""
    from drlrun.nets.sequence import SequenceTorso

    for sub in module.modules():
        if isinstance(sub, Torso) and not isinstance(sub, SequenceTorso):
            sub.autocast_dtype = PRECISIONS[precision]
    return module


def build_torso(cfg: Any, env: Any) -> Torso:
    """Build the torso named by `cfg.name` for `env` (an EnvFactory)."""
    from drlrun import registry

    return registry.build("net", cfg, env)
