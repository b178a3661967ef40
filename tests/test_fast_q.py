"""The losses' autograd-free kernels compute the autograd path's loss, gradient and actions."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from drlrun import registry
from drlrun.algos.optim import FlatAdam
from drlrun.algos.q.losses.base import TDBatch
from drlrun.algos.q.losses.kernel import NumpyMLPActor, mlp_q_linears, numpy_actor_supported
from drlrun.nets.heads import QNetwork, make_head
from drlrun.nets.mlp import MLP, MLPParams
from tests.conftest import compose


class _Params:
    def __init__(self, loss: str):
        self.loss = loss
        self.double_argmax = "next"


CPU = torch.device("cpu")


def make_objective(name: str, params: object):
    """The registered loss `name` (its builder takes its own params and the core ones)."""
    return registry.lookup("loss", name)(params, params)


def fast_path_supported(online, objective, device=CPU) -> bool:
    """The loss offers its kernel for this network (the learner's only criterion)."""
    net = copy.deepcopy(online)
    optimizer = FlatAdam(net, 1e-3, 1e-8, None)
    return objective.kernel(net, copy.deepcopy(net), optimizer, device) is not None


def _network(activation: str, obs_scale: float = 1.0, seed: int = 0) -> QNetwork:
    torch.manual_seed(seed)
    torso = MLP(6, MLPParams(hidden=[16, 8], activation=activation), obs_scale)
    return QNetwork(torso, make_head(torso.out_features, 3))


def _batch(weights: bool, seed: int = 1) -> TDBatch:
    g = torch.Generator().manual_seed(seed)
    size = 32
    return TDBatch(
        obs=torch.randn(size, 6, generator=g) * 3,
        actions=torch.randint(0, 3, (size,), generator=g),
        returns=torch.randn(size, generator=g) * 2,
        discounts=(torch.rand(size, generator=g) > 0.2).float() * 0.97,
        next_obs=torch.randn(size, 6, generator=g) * 3,
        weights=torch.rand(size, generator=g) if weights else None,
    )


def assert_kernel_matches_autograd(online, target, objective, batch: TDBatch, double: bool):
    """The kernel's loss, |TD|, mean Q and every layer's gradient equal autograd's."""
    reference = copy.deepcopy(online)
    expected = objective.loss(reference, target, batch, double)
    expected.loss.backward()

    optimizer = FlatAdam(online, 1e-3, 1e-8, None)
    kernel = objective.kernel(online, target, optimizer, CPU)
    assert kernel is not None
    got = kernel.loss_and_grad(batch, double)

    torch.testing.assert_close(got.loss, expected.loss.detach())
    torch.testing.assert_close(got.td_abs, expected.td_abs)
    torch.testing.assert_close(got.q_mean, expected.q_mean.detach())
    for (grad_w, grad_b), ref in zip(kernel.grads, mlp_q_linears(reference), strict=True):
        torch.testing.assert_close(grad_w, ref.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad_b, ref.bias.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_kernel_gradient_equals_autograd(activation, loss, double, weights):
    online = _network(activation, obs_scale=2.0)
    target = _network(activation, obs_scale=2.0, seed=5).requires_grad_(False)
    objective = make_objective("scalar", _Params(loss))
    assert_kernel_matches_autograd(online, target, objective, _batch(weights), double)


def test_numpy_acting_tracks_the_live_parameters():
    online = _network("relu")
    optimizer = FlatAdam(online, 1e-2, 1e-8, None)
    actor = NumpyMLPActor(online)
    obs = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    for _ in range(3):  # optimiser steps change the weights in place; the numpy views follow
        with torch.no_grad():
            expected = online(torch.as_tensor(obs)).numpy()
        np.testing.assert_allclose(actor.head_outputs(obs), expected, rtol=1e-5, atol=1e-6)
        online(torch.as_tensor(obs)).sum().backward()
        optimizer.step()


def test_fast_path_only_where_exact():
    cpu = torch.device("cpu")
    scalar = make_objective("scalar", _Params("huber"))
    assert fast_path_supported(_network("relu"), scalar, cpu)
    assert not fast_path_supported(_network("elu"), scalar, cpu)
    torso = MLP(6, MLPParams(hidden=[8], layer_norm=True))
    assert not fast_path_supported(QNetwork(torso, make_head(8, 3)), scalar, cpu)
    dueling = QNetwork(MLP(6, MLPParams(hidden=[8])), make_head(8, 3, dueling=True))
    assert not fast_path_supported(dueling, scalar, cpu)


def test_dqn_uses_the_kernel_by_default_and_off_switch_disables_it(tmp_path):
    from drlrun.session import build

    for fast, expect in (("auto", True), ("off", False)):
        cfg = compose(f"algo.fast_path={fast}", "log.tensorboard=false", "log.progress=false")
        built = build(cfg, tmp_path / fast)
        try:
            assert (built.algo.kernel is not None) is expect
        finally:
            built.algo.close()
            built.env.close()
    cfg = compose("algo=qr_dqn", "log.tensorboard=false", "log.progress=false")
    built = build(cfg, tmp_path / "qr")
    try:  # QR-DQN trains through autograd but acts through numpy
        assert built.algo.kernel is None and built.algo.actor.numpy is not None
    finally:
        built.algo.close()
        built.env.close()


def test_flat_adam_direct_fused_step_is_bit_identical_to_torch_adam():
    nets = [_network("relu", seed=3) for _ in range(2)]
    flat = FlatAdam(nets[0], 1e-2, 1e-8, 1.0)
    plain = FlatAdam(nets[1], 1e-2, 1e-8, 1.0)
    plain._adam_step = plain.adam.step  # the reference: torch's own Adam.step every time
    obs = torch.randn(8, 6)
    for _ in range(5):
        for net, opt in ((nets[0], flat), (nets[1], plain)):
            opt.zero_grad()
            (net(obs) ** 2).mean().backward()
            opt.step()
    assert torch.equal(flat.flat, plain.flat)
    state, reference = flat.state_dict()["state"][0], plain.state_dict()["state"][0]
    assert torch.equal(state["step"], reference["step"])
    assert torch.equal(state["exp_avg_sq"], reference["exp_avg_sq"])


def test_book_double_argmax_bug_takes_the_autograd_path():
    params = _Params("huber")
    params.double_argmax = "current"
    objective = make_objective("scalar", params)
    assert not fast_path_supported(_network("relu"), objective, torch.device("cpu"))


class _DistParams:
    atoms, v_min, v_max, quantiles, kappa = 11, -5.0, 5.0, 7, 1.0


@pytest.mark.parametrize("name", ["c51", "qr"])
def test_numpy_q_values_of_distributional_heads_match_torch(name):
    objective = make_objective(name, _DistParams())
    torch.manual_seed(0)
    torso = MLP(6, MLPParams(hidden=[16]), 1.0)
    online = QNetwork(torso, make_head(16, 3, objective.atoms))
    assert numpy_actor_supported(online, objective, torch.device("cpu"))
    obs = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    with torch.no_grad():
        expected = objective.q_values(online(torch.as_tensor(obs))).numpy()
    got = objective.q_values_numpy(NumpyMLPActor(online).head_outputs(obs))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_c51_kernel_gradient_equals_autograd(double, weights):
    objective = make_objective("c51", _DistParams())
    nets = []
    for seed in (0, 5):
        torch.manual_seed(seed)
        torso = MLP(6, MLPParams(hidden=[16, 8]), 1.0)
        nets.append(QNetwork(torso, make_head(8, 3, objective.atoms)))
    online, target = nets[0], nets[1].requires_grad_(False)
    assert_kernel_matches_autograd(online, target, objective, _batch(weights), double)
