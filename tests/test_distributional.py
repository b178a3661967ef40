"""C51 projection and QR-DQN loss: known values, a slow reference, mass conservation."""

from __future__ import annotations

import math

import pytest
import torch

from drlrun.algos.q.losses.c51 import (
    expected_value,
    make_support,
    project_categorical,
    project_categorical_reference,
)
from drlrun.algos.q.losses.qr import quantile_huber_loss


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_book_support_values():
    support = make_support(-10, 10, 51)
    dz = float(support[1] - support[0])
    assert dz == pytest.approx(0.4, abs=1e-6)
    # r = -1 lies between atoms 22 (-1.2) and 23 (-0.8); the book rounds 22.5 to 22
    assert float(support[22]) == pytest.approx(-1.2, abs=1e-6)
    uniform = torch.ones(51) / 51
    assert float(uniform[0]) == pytest.approx(0.01960784, abs=1e-8)
    assert float(expected_value(uniform, support)) == pytest.approx(0.0, abs=1e-5)


def test_expected_value_examples_from_the_text():
    x = torch.tensor([1.0, 2, 3, 4, 5, 6])
    p = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.2, 0.4])
    assert float(expected_value(p, x)) == pytest.approx(4.4)
    p2 = torch.tensor([0.6, 0.1, 0.1, 0.1, 0.1])
    assert float(expected_value(p2, torch.tensor([18.0, 21, 17, 17, 21]))) == pytest.approx(18.4)


def test_terminal_transition_is_degenerate_at_the_reward():
    support = make_support(-10, 10, 51)
    probs = torch.softmax(torch.randn(3, 51), dim=1)
    m = project_categorical(probs, torch.tensor([-1.2, 10.0, 3.0]), torch.zeros(3), support)
    assert float(m[0, 22]) == pytest.approx(1.0)
    assert float(m[1, 50]) == pytest.approx(1.0)
    # 3.0 is between atoms 32 (2.8) and 33 (3.2): split half and half
    assert float(m[2, 32]) == pytest.approx(0.5, abs=1e-5)
    assert float(m[2, 33]) == pytest.approx(0.5, abs=1e-5)


def test_identity_shift_keeps_the_distribution():
    """r = 0, discount 1: every atom lands exactly on itself (l == u), nothing may be lost."""
    support = make_support(-10, 10, 51)
    probs = torch.softmax(torch.randn(4, 51, dtype=torch.float64), dim=1)
    m = project_categorical(
        probs,
        torch.zeros(4, dtype=torch.float64),
        torch.ones(4, dtype=torch.float64),
        support.double(),
    )
    torch.testing.assert_close(m, probs, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "atoms,v_min,v_max", [(51, -10.0, 10.0), (101, -100.0, 100.0), (11, 0.0, 5.0)]
)
def test_projection_matches_the_per_sample_reference(atoms, v_min, v_max):
    gen = torch.Generator().manual_seed(atoms)
    batch = 64
    support = make_support(v_min, v_max, atoms).double()
    probs = torch.softmax(torch.randn(batch, atoms, generator=gen, dtype=torch.float64) * 3, 1)
    span = v_max - v_min
    returns = (torch.rand(batch, generator=gen, dtype=torch.float64) - 0.5) * span * 1.5
    discounts = torch.rand(batch, generator=gen, dtype=torch.float64)
    discounts[::5] = 0.0  # terminal transitions
    discounts[1::7] = 1.0
    returns[2::9] = support[3]  # lands exactly on an atom
    fast = project_categorical(probs, returns, discounts, support)
    slow = project_categorical_reference(probs, returns, discounts, support)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        fast.sum(1), torch.ones(batch, dtype=torch.float64), atol=1e-9, rtol=0
    )
    assert (fast >= 0).all()


def test_projection_float32_conserves_mass():
    support = make_support(-10, 10, 51)
    probs = torch.softmax(torch.randn(256, 51), dim=1)
    m = project_categorical(probs, torch.randn(256) * 4, torch.full((256,), 0.99), support)
    torch.testing.assert_close(m.sum(1), torch.ones(256), atol=1e-5, rtol=0)


def test_quantile_huber_loss_hand_computed():
    # two quantiles at tau = 0.25, 0.75; one target value 1.0
    theta = torch.tensor([[0.0, 2.0]])
    target = torch.tensor([[1.0]])
    # u_0 = 1 (>0): weight 0.25, huber(1) = 0.5 ; u_1 = -1 (<0): weight |0.75 - 1| = 0.25, huber 0.5
    assert float(quantile_huber_loss(theta, target, kappa=1.0)) == pytest.approx(0.25)
    # kappa = 0: plain quantile loss |u| -> 0.25 * 1 + 0.25 * 1
    assert float(quantile_huber_loss(theta, target, kappa=0.0)) == pytest.approx(0.5)
    # large error: u = 3 - 0 = 3 and 3 - 2 = 1, kappa 1: huber(3) = 2.5, huber(1) = 0.5
    value = float(quantile_huber_loss(theta, torch.tensor([[3.0]]), kappa=1.0))
    assert value == pytest.approx(0.25 * 2.5 + 0.75 * 0.5)


def test_quantile_loss_is_minimised_at_the_true_quantiles():
    """Gradient descent on the loss recovers the quantiles of a sample (what QR-DQN relies on)."""
    gen = torch.Generator().manual_seed(0)
    samples = torch.randn(1, 2000, generator=gen) * 2 + 1
    theta = torch.zeros(1, 5, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        quantile_huber_loss(theta, samples, kappa=0.0).sum().backward()
        opt.step()
    taus = (torch.arange(5) + 0.5) / 5
    expected = torch.quantile(samples[0], taus)
    torch.testing.assert_close(theta.detach()[0], expected, atol=0.08, rtol=0)


def test_bad_support_is_a_clear_error():
    from drlrun.errors import DrlrunError

    with pytest.raises(DrlrunError, match="v_min < v_max"):
        make_support(10, -10, 51)
    assert math.isfinite(float(make_support(-1, 1, 2)[0]))
