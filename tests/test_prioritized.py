"""Sum tree and proportional prioritized replay: sampling proportions, updates, IS weights."""

from __future__ import annotations

import numpy as np
import pytest

from drlrun.buffers.prioritized import PrioritizedReplayBuffer
from drlrun.buffers.sumtree import SumTree


def test_sum_tree_totals_and_updates():
    tree = SumTree(5)
    tree.update(np.arange(5), np.array([1.0, 2.0, 3.0, 4.0, 0.0]))
    assert tree.total == pytest.approx(10.0)
    assert tree.min == pytest.approx(1.0)
    tree.update(np.array([0, 4]), np.array([5.0, 0.5]))
    assert tree.total == pytest.approx(14.5)
    assert tree.min == pytest.approx(0.5)
    np.testing.assert_allclose(tree[np.arange(5)], [5.0, 2.0, 3.0, 4.0, 0.5])
    # prefix sums: [0,5) -> 0, [5,7) -> 1, [7,10) -> 2, [10,14) -> 3, [14,14.5) -> 4
    found = tree.find(np.array([0.0, 4.99, 5.0, 6.9, 7.0, 13.99, 14.2]))
    np.testing.assert_array_equal(found, [0, 0, 1, 1, 2, 3, 4])


def test_sum_tree_sampling_proportions():
    tree = SumTree(6)
    priorities = np.array([1.0, 0.0, 2.0, 3.0, 0.0, 4.0])
    tree.update(np.arange(6), priorities)
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(50, rng) for _ in range(2000)])
    freq = np.bincount(draws, minlength=6) / len(draws)
    np.testing.assert_allclose(freq, priorities / priorities.sum(), atol=0.01)
    assert freq[1] == 0 and freq[4] == 0  # zero priority is never drawn


def test_sum_tree_rejects_negative_and_round_trips():
    tree = SumTree(3)
    with pytest.raises(ValueError):
        tree.update(np.array([0]), np.array([-1.0]))
    tree.update(np.arange(3), np.array([0.5, 1.5, 2.0]))
    other = SumTree(3)
    other.load_state_dict(tree.state_dict())
    assert other.total == pytest.approx(4.0)
    assert other.min == pytest.approx(0.5)


def _filled_buffer(n: int, n_step: int = 1, frame_stack: int = 1, capacity: int = 64):
    shape = (frame_stack, 2) if frame_stack > 1 else (2,)
    buf = PrioritizedReplayBuffer(
        capacity,
        1,
        shape,
        np.dtype(np.float32),
        frame_stack,
        n_step=n_step,
        alpha=1.0,
        beta_start=0.5,
        beta_frames=100,
    )
    for i in range(n):
        obs = np.full((1, *shape), i, dtype=np.float32)
        buf.add(obs, np.array([0]), np.array([1.0]), np.array([False]), np.array([False]), {})
    return buf


def test_only_sampleable_transitions_carry_priority():
    buf = _filled_buffer(10, n_step=3)
    valid = [r for r in range(10) if buf.tree[np.array([r])][0] > 0]
    assert valid == list(range(7))  # the newest 3 lack their 3-step look-ahead
    full = _filled_buffer(70, n_step=1, frame_stack=4, capacity=64)
    live = int((full.tree[np.arange(64)] > 0).sum())
    assert live == 64 - 1 - 3  # newest row and the oldest k-1 rows without history


def test_priorities_steer_sampling_and_weights():
    buf = _filled_buffer(20)
    rng = np.random.default_rng(1)
    batch = buf.sample(8, rng, n_step=1, gamma=0.9)
    hot_row = batch.rows[0]
    buf.update_priorities(batch, np.where(batch.rows == hot_row, 100.0, 0.0))
    batch = buf.sample(400, rng, n_step=1, gamma=0.9)
    hot = batch.rows == hot_row
    assert hot.mean() > 0.5  # one transition holds most of the priority mass
    # the most probable transition gets the smallest importance weight, all are <= 1
    assert batch.weights[hot].max() < batch.weights[~hot].min()
    assert batch.weights.max() <= 1.0


def test_beta_anneals_to_one_and_state_round_trips():
    buf = _filled_buffer(50)
    assert buf.beta == pytest.approx(0.75)  # 50 of beta_frames=100, from 0.5 toward 1
    batch = buf.sample(4, np.random.default_rng(0), n_step=1, gamma=0.9)
    buf.update_priorities(batch, np.array([3.0, 1.0, 2.0, 5.0]))
    copy = _filled_buffer(0)
    copy.load_state_dict(buf.state_dict())
    a = buf.sample(16, np.random.default_rng(5), 1, 0.9)
    b = copy.sample(16, np.random.default_rng(5), 1, 0.9)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.weights, b.weights)
    for _ in range(60):
        buf.add(
            np.zeros((1, 2), np.float32),
            np.array([0]),
            np.array([0.0]),
            np.array([False]),
            np.array([False]),
            {},
        )
    assert buf.beta == pytest.approx(1.0)


@pytest.mark.parametrize("algo", ["dqn", "dist_dqn"])
def test_prioritized_replay_drives_dqn_family_learners(tmp_path, algo):
    from tests.conftest import run_config

    summary, learner = run_config(
        [
            f"algo={algo}",
            "replay=prioritized",
            "net.hidden=[32,32]",
            "budget.frames=1500",
            "algo.gradient_steps=16",
            "algo.learning_starts=500",
            "algo.n_step=3",
            "eval.every=0",
            "eval.episodes=0",
            "checkpoint.every=0",
        ],
        tmp_path / algo,
    )
    assert summary["status"] == "finished"
    buf = learner.replay
    assert isinstance(buf, PrioritizedReplayBuffer)
    assert learner.cfg.per.per_alpha == 0.6 and learner.p.replay == "prioritized"
    assert buf.beta_frames == 1500 and buf.beta == 1.0  # annealed over budget.frames
    leaves = buf.tree[np.arange(len(buf))]
    live = leaves[leaves > 0]
    assert len(live) == len(buf) - 3  # all but the 3 newest rows (no 3-step look-ahead yet)
    assert live.std() > 0  # TD errors have replaced the initial (max) priorities
    if algo == "dist_dqn":  # C51 draws its return distributions at the end of a run
        assert (tmp_path / algo / "plots" / "distributions.png").exists()
