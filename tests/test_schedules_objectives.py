"""Epsilon schedule and the scalar TD target on hand-computed examples."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from drlrun.algos.q.losses.base import TDBatch
from drlrun.algos.q.losses.scalar import ScalarQ
from drlrun.algos.schedules import CosineSchedule, LinearSchedule


def test_linear_schedule_matches_cleanrl() -> None:
    s = LinearSchedule(1.0, 0.05, 1000)
    assert s(0) == 1.0
    assert s(500) == pytest.approx(0.525)
    assert s(1000) == pytest.approx(0.05)
    assert s(10**6) == pytest.approx(0.05)
    assert LinearSchedule(0.0, 1.0, 10)(5) == pytest.approx(0.5)


class Table(nn.Module):
    """Q(s) = row s of a fixed table: observations are state indices."""

    def __init__(self, table: list[list[float]]):
        super().__init__()
        self.table = nn.Parameter(torch.tensor(table))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs.long()]


class Params:
    loss = "mse"
    double_argmax = "next"


def test_cosine_schedule_warms_up_then_halves_at_midpoint_and_ends_at_the_floor() -> None:
    s = CosineSchedule(peak=1e-3, duration=1000, warmup=50)
    assert s(0) == pytest.approx(2e-5) and s(49) == pytest.approx(1e-3)  # linear warm-up
    assert s(50) == pytest.approx(1e-3)
    assert s(525) == pytest.approx(5e-4)  # half way through the decay: cos(pi / 2)
    assert s(1000) == 0.0 and s(5000) == 0.0
    assert CosineSchedule(1.0, 10, floor=0.1)(10) == pytest.approx(0.1)


def test_scalar_target_dqn_vs_double() -> None:
    online = Table([[1.0, 2.0], [5.0, 3.0]])
    target = Table([[0.0, 0.0], [1.0, 4.0]])
    batch = TDBatch(
        obs=torch.tensor([0, 0]),
        actions=torch.tensor([1, 0]),
        returns=torch.tensor([1.0, 0.5]),
        discounts=torch.tensor([0.9, 0.0]),
        next_obs=torch.tensor([1, 1]),
        weights=None,
    )
    obj = ScalarQ(Params())
    # DQN: max_a Q'(s1) = 4 -> y = [1 + 0.9*4, 0.5]; q = [2, 1]
    out = obj.loss(online, target, batch, double=False)
    assert out.td_abs.tolist() == pytest.approx([4.6 - 2.0, 0.5])
    assert out.loss.item() == pytest.approx(((2.6) ** 2 + 0.5**2) / 2)
    # Double: a* = argmax online(s1) = 0 -> Q'(s1, 0) = 1 -> y = [1.9, 0.5]
    out = obj.loss(online, target, batch, double=True)
    assert out.td_abs.tolist() == pytest.approx([0.1, 0.5])
