"""Ising grids and the multi-agent Q learners (book ch. 9): inventory values, mean fields, the
joint-action index, target indexing, the PettingZoo face, and a small grid that aligns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from drlrun.algos.marl.core import TeamQNet, boltzmann, q_target
from drlrun.envs.ising import IsingGrid, IsingParallelEnv, IsingParams, reward_2d
from drlrun.envs.multiagent import joint_action_index, one_hot
from drlrun.errors import DrlrunError
from tests.conftest import compose, run_config


def _grid(dims: int, values: np.ndarray, **kw) -> IsingGrid:
    g = IsingGrid(IsingParams(dims=dims, size=values.shape[0], **kw))
    g.reset(0)
    g.grid = values.astype(np.int64).copy()
    return g


def test_1d_rewards_are_the_books_minus2_minus02_plus16():
    # ring 1,1,0,0,1: spin 0 sees (1, 1) and plays 0 (no match); spins 1 and 4 see (1, 0) and
    # (0, 1) and play 1 (one match each)
    g = _grid(1, np.array([1, 1, 0, 0, 1]), reward_neighbours="old")
    (step,), _, _ = g.step([np.array([0, 1, 1, 1, 1])])
    np.testing.assert_allclose(step.reward[[0, 1, 4]], [-2.0, -0.2, -0.2], atol=1e-6)
    g = _grid(1, np.array([1, 1, 1, 0, 0]), reward_neighbours="old")
    (step,), _, _ = g.step([np.array([1, 1, 1, 1, 1])])
    np.testing.assert_allclose(step.reward[1], 1.6, atol=1e-6)  # both neighbours up, action up


def test_2d_tanh_reward_is_pm_08483():
    mf = np.array([[0.25, 0.75], [0.25, 0.75]], np.float32)
    np.testing.assert_allclose(reward_2d(np.array([0, 1]), mf), [-0.8483, 0.8483], atol=1e-4)


def test_mean_field_of_a_known_moore_neighbourhood_wraps_the_torus():
    grid = np.zeros((4, 4), np.int64)
    grid[0, 1] = grid[1, 0] = grid[3, 3] = 1  # three up neighbours of (0, 0), one across the wrap
    g = _grid(2, grid)
    mf = g.mean_field(0, g.spins())
    np.testing.assert_allclose(mf[0], [5 / 8, 3 / 8])
    np.testing.assert_allclose(mf.sum(axis=1), 1.0)
    assert g.n_neighbours == 8


def test_joint_action_outer_product_index_13():
    a, b = one_hot(np.array([3]), 4)[0], one_hot(np.array([1]), 4)[0]
    flat = np.outer(a, b).reshape(-1)
    assert flat.shape == (16,) and flat.argmax() == 13 and flat.sum() == 1
    assert joint_action_index(np.array([[3, 1]]), 4)[0] == 13
    g = _grid(1, np.array([0, 1, 1, 1, 0]))
    np.testing.assert_array_equal(g.joint_index(0, g.spins()), [1, 1, 3, 2, 2])  # (left, right)


@pytest.mark.parametrize("stored", ["chosen", "taken"])
def test_replay_stores_the_mean_field_of_the_taken_actions_when_asked(stored):
    """MF-Q paper, Algorithm 1: the stored mean action is that of the actions then played; the
    book stores the one the action was chosen under (the last refinement pass)."""
    from drlrun.session import build

    overrides = [
        "+experiment=ch9_ising2d_fixed",
        "env.temperature=5",
        f"algo.replay_features={stored}",
    ]
    algo = build(compose(*overrides), None, device="cpu").algo
    algo._env_step()  # hot: most sampled spins differ from the refinement pass before
    data, n = algo.learners[0].replay.data, algo.learners[0].replay.size
    taken = algo.env.mean_field(0, data["action"][:n])
    assert np.array_equal(data["x"][:n], taken) == (stored == "taken")
    algo.close()


def test_target_indexing_writes_only_the_taken_action_per_row():
    q = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    actions, y = torch.tensor([0, 1, 0]), torch.tensor([10.0, 20.0, 30.0])
    fixed = q_target(q, actions, y, book=False)
    assert torch.equal(fixed, torch.tensor([[10.0, 2.0], [3.0, 20.0], [30.0, 6.0]]))
    book = q_target(q, actions, y, book=True)  # whole columns: every row gets the same values
    assert torch.equal(book[0], book[1]) and torch.equal(book[1], book[2])
    assert book[0, 1] == 20.0 and book[0, 0] in (10.0, 30.0)


def test_per_agent_networks_keep_agents_apart_and_book_net_has_120_params():
    net = TeamQNet(4, [20], 2, groups=20, style="book")
    assert sum(p.numel() for p in net.parameters()) == 20 * 120
    x = torch.zeros(20, 4)
    x[:, 0] = 1
    q = net(x, torch.arange(20))
    assert q.shape == (20, 2) and not torch.allclose(q[0], q[1])
    assert sum(p.numel() for p in TeamQNet(2, [10], 2, style="book").parameters()) == 40


def test_boltzmann_cold_is_argmax_and_hot_is_uniform():
    rng = np.random.default_rng(0)
    q = np.tile([[0.0, 1.0, 0.5]], (4000, 1))
    assert (boltzmann(q, 0.0, rng) == 1).all()
    counts = np.bincount(boltzmann(q, 1000.0, rng), minlength=3) / 4000
    np.testing.assert_allclose(counts, 1 / 3, atol=0.04)


def test_100x100_grid_steps_in_milliseconds():
    import time

    g = IsingGrid(IsingParams(dims=2, size=100))
    g.reset(0)
    start = time.perf_counter()
    for _ in range(20):
        a = g.spins()
        g.mean_field(0, a)
        g.step([a])
    assert (time.perf_counter() - start) / 20 < 0.05  # ~1.5 ms here; generous for a loaded box


def test_pettingzoo_parallel_api():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test

    env = IsingParallelEnv(IsingParams(dims=2, size=4, episode_steps=5))
    parallel_api_test(env, num_cycles=10)
    obs, _ = env.reset(seed=3)
    assert len(obs) == 16 and obs["spin_0"].shape == (4,)


def test_single_agent_algorithms_refuse_ising_and_back():
    from drlrun.session import build

    with pytest.raises(DrlrunError, match="multi-agent"):
        build(compose("algo=dqn", "env=ising2d"), None)
    with pytest.raises(DrlrunError, match="multi-agent"):
        build(compose("algo=mfq", "env=cartpole"), None)


def test_fixed_mfq_aligns_a_10x10_grid_and_an_untrained_net_does_not(tmp_path):
    base = ["+experiment=ch9_ising2d_fixed", "seed=0", "budget.frames=30", "eval.episodes=2"]
    summary, _ = run_config(base, tmp_path / "learn")
    assert summary["magnetization"] == 1.0 and summary["eval_magnetization"] == 1.0
    control, _ = run_config([*base, "algo.book_no_update=true"], tmp_path / "frozen")
    assert control["magnetization"] < 0.5  # seed 0's random net leaves the grid disordered
    assert (tmp_path / "learn" / "ising_grid.png").exists()
    assert json.loads((tmp_path / "learn" / "summary.json").read_text())["status"] == "finished"


def test_fixed_nq_ring_forms_two_aligned_domains(tmp_path):
    summary, _ = run_config(["+experiment=ch9_ising1d_fixed", "seed=0"], tmp_path)
    assert summary["domain_walls"] <= 2  # a random 20-spin ring has ~10


@pytest.mark.parametrize("preset", ["ch9_ising2d_fixed", "ch9_ising1d_book"])
def test_restored_learner_continues_identically(tmp_path, preset):
    from drlrun import checkpoint
    from drlrun.session import build

    def make():
        return build(compose(f"+experiment={preset}"), None, device="cpu")

    a = make()
    for _ in range(15):
        a.algo.train_step()
    path = checkpoint.save(a.algo.state_dict(), tmp_path, a.algo.frames, keep=1)
    b = make()
    b.algo.load_state_dict(checkpoint.load(path))
    for built in (a, b):
        for _ in range(10):
            built.algo.train_step()
    pa = torch.cat([p.detach().flatten() for p in a.algo.learners[0].net.parameters()])
    pb = torch.cat([p.detach().flatten() for p in b.algo.learners[0].net.parameters()])
    torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    np.testing.assert_array_equal(a.algo.env.spins(), b.algo.env.spins())
    for built in (a, b):
        built.algo.close()


def test_marl_figures_probe_writes_the_run_dir_pngs_and_logs_each_image(tmp_path):
    from drlrun.session import build
    from drlrun.viz.probe import Figures, build_probes, write_figures

    class Images:
        def __init__(self):
            self.tags = []

        def image(self, tag, rgb, frames):
            assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
            self.tags.append(tag)

    built = build(compose("+experiment=ch9_ising2d_fixed"), None, device="cpu")
    for _ in range(5):
        built.algo.train_step()
    logger = Images()
    probes = build_probes(built.algo)
    written = write_figures(probes, Figures(tmp_path, built.algo.frames, logger))  # type: ignore[arg-type]
    built.algo.close()
    assert [w.name for w in written] == ["ising_grid.png", "magnetization.png", "loss.png"]
    assert logger.tags == ["ising_grid", "magnetization", "loss"]
    assert all((tmp_path / w.name).stat().st_size > 0 for w in written)


def test_order_parameter_pools_seeds_per_temperature():
    from drlrun.sweep.jobs import Job
    from drlrun.viz.marl import order_parameter

    def job(t, m):
        return Job(Path("."), {"env.temperature": t, "seed": "0"}, {"eval_magnetization": m})

    rows = order_parameter([job("1.5", 0.2), job("0.5", 1.0), job("1.5", 0.4), job("0.5", 0.8)])
    np.testing.assert_allclose(rows, [[0.5, 0.9, 0.1, 2], [1.5, 0.3, 0.1, 2]])


def test_mfac_trains_its_actor_on_the_ising_grid(tmp_path):
    overrides = ["algo=mfac", "env=ising2d", "algo.use_obs=false", "net.hidden=[10]",
                 "budget.frames=20", "eval.every=0", "eval.episodes=1", "log.every=10",
                 "algo.learning_starts=100", "algo.batch_size=64"]  # fmt: skip
    summary, algo = run_config(overrides, tmp_path)
    assert 0.0 <= summary["magnetization"] <= 1.0 and algo.updates > 0
    assert algo.policy(algo.learners[0])[1] == 1.0  # samples the actor's own softmax
    assert algo.export()["temperature"] == 1.0
    mine = algo.controller()  # evaluation plays the actor at T = 1, not the critic's temperature
    assert mine.temperature == 1.0 and mine.nets[0] is algo.learners[0].actor
