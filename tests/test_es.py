"""Evolution strategies: shaping, the update rules, backends in lock-step, resume, learning."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from drlrun import checkpoint, registry
from drlrun.algos.accepts import check_task
from drlrun.algos.base import RunContext
from drlrun.algos.evolution.es import ES
from drlrun.algos.evolution.es_core import ESCore, ESParams, centered_ranks, generation_seeds, noise
from drlrun.errors import DrlrunError

CPU = torch.device("cpu")
BOOK_NET = OmegaConf.create({"name": "mlp", "hidden": [25, 10], "activation": "relu"})


def cartpole():
    registry.load_builtins_and_plugins()
    return registry.build("env", OmegaConf.create({"name": "cartpole", "id": "CartPole-v1"}))


def make_es(seed: int = 0, **kw) -> ES:
    torch.manual_seed(seed)  # the parent starts from the torso's seeded default init
    return ES(ESParams(**kw), cartpole(), RunContext(seed, CPU, None, BOOK_NET))


# --- shaping and updates ----------------------------------------------------------------------
def test_centered_ranks_values_and_ties():
    np.testing.assert_allclose(centered_ranks(np.array([3.0, -1.0, 10.0])), [0.0, -0.5, 0.5])
    # ties share the average rank, so a tied antithetic pair cancels exactly
    shaped = centered_ranks(np.array([[5.0, 5.0], [1.0, 9.0]]))
    assert shaped[0, 0] == shaped[0, 1]
    np.testing.assert_allclose(shaped, [[0.0, 0.0], [-0.5, 0.5]])
    assert centered_ranks(np.array([2.0])).tolist() == [0.0]


def test_salimans_update_climbs_a_quadratic():
    """ES on f(theta) = -|theta - target|^2 (no env): the parent walks to the target."""
    p = ESParams(population=40, sigma=0.1, lr=0.05, optimizer="adam")
    target = np.linspace(-1, 1, 30).astype(np.float32)
    core = ESCore(np.zeros(30, dtype=np.float32), p, base_seed=0)
    for g in range(300):
        table = np.array(
            [[-np.sum((m - target) ** 2) for m in core.members(g, j)] for j in range(p.n_seeds)]
        )
        core.step(g, table)
    assert np.sum((core.theta - target) ** 2) < 0.05 * np.sum(target**2)


def test_sgd_and_plain_fitness_gradient_matches_formula():
    """No shaping, no antithetic, plain SGD without momentum: theta' = theta + lr/(n sigma) sum F eps."""
    p = ESParams(
        population=4,
        sigma=0.5,
        lr=0.1,
        optimizer="sgd",
        momentum=0.0,
        antithetic=False,
        fitness_shaping="none",
    )
    core = ESCore(np.ones(7, dtype=np.float32), p, base_seed=3)
    fitness = np.array([[1.0], [2.0], [-3.0], [0.5]])
    eps = np.stack([noise(s, 7) for s in generation_seeds(3, 0, 4)])
    expected = 1.0 + 0.1 / (4 * 0.5) * (fitness[:, 0] @ eps)
    core.step(0, fitness)
    np.testing.assert_allclose(core.theta, expected, rtol=1e-5)


def test_book_update_is_the_fitness_weighted_noise_average():
    p = ESParams(population=3, sigma=0.2, antithetic=False, update="book")
    core = ESCore(np.zeros(5, dtype=np.float32), p, base_seed=1)
    members = np.concatenate([core.members(0, j) for j in range(3)])
    fitness = np.array([[1.0], [3.0], [6.0]])
    core.step(0, fitness)
    np.testing.assert_allclose(core.theta, (fitness[:, 0] / 10.0) @ members, rtol=1e-5)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(DrlrunError, match="even population"):
        registry.lookup("algo", "es")(
            OmegaConf.create({"name": "es", "population": 7}),
            cartpole(),
            RunContext(0, CPU, None, BOOK_NET),
        )
    # a fitness target is refused by the task check session.build runs before building
    with pytest.raises(DrlrunError, match="fitness target, not an environment: use algo=ga"):
        check_task("es", "string_target")
    with pytest.raises(
        DrlrunError, match=r"unknown backend 'mpi'; valid choices: process, ray, serial$"
    ):
        make_es(0, population=4, backend="mpi", workers=2)


# --- backends ----------------------------------------------------------------------------------
def two_generations(backend: str, workers: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    es = make_es(0, population=12, sigma=0.5, backend=backend, workers=workers, action="sample")
    start = es.theta.copy()
    try:
        for _ in range(2):
            metrics = es.train_step().metrics
        assert not np.array_equal(start, es.theta)  # a real update happened
        assert metrics["fitness_best"] > metrics["fitness_worst"]
        return es.theta.copy(), es.backend.thetas(), es.frames
    finally:
        es.close()


def test_process_backend_matches_serial():
    serial, _, frames = two_generations("serial", 1)
    parallel, replicas, frames_p = two_generations("process", 2)
    np.testing.assert_array_equal(parallel, serial)
    for replica in replicas:  # every worker applied the identical update
        np.testing.assert_array_equal(replica, serial)
    assert frames_p == frames


@pytest.mark.slow
@pytest.mark.ci
def test_ray_backend_matches_serial():
    pytest.importorskip("ray")
    serial, _, _ = two_generations("serial", 1)
    distributed, replicas, _ = two_generations("ray", 2)
    np.testing.assert_array_equal(distributed, serial)
    for replica in replicas:
        np.testing.assert_array_equal(replica, serial)


def test_only_scalars_cross_the_wire():
    es = make_es(0, population=50, backend="serial")
    try:
        metrics = es.train_step().metrics
    finally:
        es.close()
    # 25 (seed index, f+, f-) rows ~ 1 KB; the 407-float parent alone would be > 1.6 KB
    assert metrics["wire_bytes_sent_per_worker"] < 1000
    assert metrics["wire_bytes_received_per_worker"] < 1000


def test_es_resumes_exactly(tmp_path: Path):
    full = make_es(2, population=10, sigma=0.5)
    for _ in range(4):
        full.train_step()
    half = make_es(2, population=10, sigma=0.5)
    for _ in range(2):
        half.train_step()
    path = checkpoint.save({"algo": half.state_dict()}, tmp_path, half.frames, 1)
    resumed = make_es(2, population=10, sigma=0.5)
    resumed.load_state_dict(checkpoint.load(path)["algo"])
    for _ in range(2):
        resumed.train_step()
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.history, full.history)
    assert resumed.frames == full.frames
    for es in (full, half, resumed):
        es.close()


@pytest.mark.slow
@pytest.mark.ci
def test_es_improves_cartpole_return():
    """Defaults (50 members, sigma 0.2, Adam lr 0.2): the parent goes from ~9 steps to > 150 in
    20 generations (seed 0 reaches 460+, seeds 1-4 pass 150 by generation 20-30)."""
    es = make_es(0)
    try:
        before = es.evaluate(5, 123)["eval_return_mean"]
        for _ in range(20):
            es.train_step()
        after = es.evaluate(5, 123)["eval_return_mean"]
    finally:
        es.close()
    assert before < 30
    assert after > 150


def test_ray_backend_without_ray_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(DrlrunError, match="backend=process"):
        make_es(0, population=4, backend="ray", workers=2)
