"""The runner's finiteness guard: a NaN/inf loss or parameter stops any algorithm's run.

Every train step's loss metrics (a key that starts with "loss" or ends with "_loss") must be
finite, and so must the tensors an algorithm names in `Algorithm.named_tensors()` before a
checkpoint is written: a run stops with one line instead of finishing with a NaN checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch

from drlrun.errors import NonFiniteLossError

ADVICE = "lower algo.lr, set algo.max_grad_norm, or check the reward scale"
Tensorish = torch.Tensor | np.ndarray


def is_loss_key(key: str) -> bool:
    """Loss metrics by name: `loss`, `loss_team1`, `q_loss`, `actor_loss`, ..."""
    return key.startswith("loss") or key.endswith("_loss")


def check_metrics(
    metrics: Mapping[str, float], frames: int, iteration: int, kept: Callable[[], str]
) -> None:
    """Raise NonFiniteLossError naming the first non-finite loss metric of a train step;
    `kept()` says which checkpoint stays (asked only on failure: it lists the folder)."""
    for key, value in metrics.items():
        if is_loss_key(key) and not math.isfinite(value):
            raise NonFiniteLossError(
                f"the loss became {value} at frame {frames} (iteration {iteration}, metric "
                f"{key}); {kept()}; {ADVICE}"
            )


def first_non_finite(tensors: Mapping[str, Tensorish]) -> str | None:
    """The name of the first tensor or array holding a NaN or inf (None: all finite)."""
    for name, value in tensors.items():
        if not _finite(value):
            return name
    return None


def _finite(value: Tensorish) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value.detach()).all())
    array = np.asarray(value)
    return not np.issubdtype(array.dtype, np.inexact) or bool(np.isfinite(array).all())


def kept_message(last: object | None) -> str:
    """What a stopped run leaves: its last good checkpoint, or none at all."""
    return (
        "no checkpoint was written yet"
        if last is None
        else f"the last good checkpoint {last} is kept"
    )


def check_parameters(
    tensors: Mapping[str, Tensorish], frames: int, iteration: int, kept: Callable[[], str]
) -> None:
    """Raise NonFiniteLossError when a parameter is non-finite; `kept()` says which checkpoint
    stays (the caller writes none)."""
    name = first_non_finite(tensors)
    if name is not None:
        raise NonFiniteLossError(
            f"the parameters became non-finite ({name}) at frame {frames} (iteration "
            f"{iteration}); this checkpoint was not written, {kept()}; {ADVICE}"
        )
