"""Checkpoint state of the new learners is complete: a restored copy continues identically."""

from __future__ import annotations

import pytest
import torch

from drlrun import checkpoint
from drlrun.session import build
from tests.conftest import compose


def _build(overrides):
    return build(compose(*overrides), None, device="cpu")


def _params(algo) -> torch.Tensor:
    if hasattr(algo, "theta"):
        return algo.theta.detach().clone()
    return torch.cat([p.detach().flatten() for p in algo.online.parameters()])


@pytest.mark.parametrize(
    "overrides,warm,more",
    [
        (["+experiment=ch7_freeway_book"], 230, 30),
        (
            [
                "algo=dist_dqn",
                "replay=prioritized",
                "net.hidden=[32]",
                "algo.learning_starts=300",
                "algo.gradient_steps=8",
            ],
            600,
            300,
        ),
        (
            ["algo=qr_dqn", "net.hidden=[32]", "algo.learning_starts=300", "algo.gradient_steps=8"],
            600,
            300,
        ),
    ],
)
def test_restored_learner_continues_identically(tmp_path, overrides, warm, more):
    a = _build(overrides)
    while a.algo.frames < warm:
        a.algo.train_step()
    path = checkpoint.save(a.algo.state_dict(), tmp_path, a.algo.frames, keep=1)
    state = checkpoint.load(path)  # weights_only loading, as a resumed run does
    b = _build(overrides)
    b.algo.load_state_dict(state)
    for built in (a, b):
        while built.algo.frames < warm + more:
            built.algo.train_step()
    torch.testing.assert_close(_params(a.algo), _params(b.algo), rtol=0, atol=0)
    for built in (a, b):
        built.algo.close()
        built.env.close()
