"""A relational Double DQN learns on MiniGrid through env=doorkey within a CI-sized budget."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minigrid")

from drlrun.algos.base import run_episodes  # noqa: E402
from tests.conftest import run_config  # noqa: E402

# MiniGrid-Empty-5x5 through the DoorKey builder (same 7x7 symbolic view, one-hot encoding and
# relational torso as ch10_doorkey_fixed). With 20 steps a random 5-action policy reaches the
# goal in about 4% of episodes. DoorKey-5x5 itself needs far more than a CI budget (see README).
OVERRIDES = [
    "+experiment=ch10_doorkey_fixed",
    "env.id=MiniGrid-Empty-5x5-v0",
    "env.max_steps=20",
    "net.heads=1",
    "net.node_size=16",
    "algo.learning_starts=500",
    "algo.eps_start=1.0",
    "algo.eps_end=0.05",
    "algo.eps_decay_frames=2000",
    "algo.train_freq=2",
    "algo.target_update_every=200",
    "algo.buffer_size=10000",
    "budget.frames=4000",
    "eval.every=0",
    "eval.episodes=30",
    "checkpoint.every=0",
]


@pytest.mark.slow
@pytest.mark.ci
def test_relational_dqn_beats_random_on_minigrid(tmp_path):
    summary, algo = run_config([*OVERRIDES, "seed=0"], tmp_path)
    env = algo.env_factory.make_eval()
    try:
        uniform = run_episodes(env, lambda obs, rng: rng.integers(0, 5, len(obs)), 30, 777)
    finally:
        env.close()
    assert uniform["success_rate"] < 0.2
    assert summary["success_rate"] >= 0.6, summary
    assert np.isfinite(summary["episode_length_mean"])
