"""C51 and QR-DQN learn CartPole-v1 (eval return >= 400) on a fixed seed within a CI budget.

Settings: the algos' own defaults (n-step 3, the rl-zoo CartPole schedule; QR-DQN 10 quantiles),
C51 on a 64x64 MLP, QR-DQN on 256x256. At this budget seeds 0, 1, 2 gave eval returns
500/500/500 (C51) and 464/500/443 (QR-DQN).
"""

from __future__ import annotations

import pytest

from tests.conftest import run_config

BUDGET = 24_000


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.parametrize("algo,hidden", [("dist_dqn", "[64,64]"), ("qr_dqn", "[256,256]")])
def test_distributional_dqn_learns_cartpole(tmp_path, algo, hidden):
    summary, _ = run_config(
        [
            f"algo={algo}",
            "env=cartpole",
            f"net.hidden={hidden}",
            "seed=0",
            f"budget.frames={BUDGET}",
            "eval.every=0",
            "eval.episodes=5",
            "checkpoint.every=0",
            "device=cpu",
        ],
        tmp_path / algo,
    )
    assert summary["eval_return_mean"] >= 400, summary
