"""env.backend=envpool (issue 18's lever): the same game as the gymnasium path, frame by frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drlrun.envs.atari import AtariParams, make_atari

pytest.importorskip("envpool")

from drlrun.envs.envpool_vec import EnvPoolVecEnv  # noqa: E402


@pytest.mark.xfail(
    strict=True,
    reason="not yet at parity: with sticky actions off and no no-op starts, EnvPool's crossings "
    "score at other steps than ale-py's and 0.3% of pixels differ by up to 63 grey levels from "
    "the reset frame on (a different first frame); env.backend=envpool stays opt-in",
)
def test_envpool_plays_the_gymnasium_game_rewards_exactly_frames_nearly() -> None:
    """Sticky actions off, no no-op starts, one fixed action sequence: identical rewards and
    episode flags, and frames within 1 grey level (issue 18's parity check)."""
    p = AtariParams(noop_max=0, repeat_action_probability=0.0, num_envs=1)
    gym_env = make_atari(p, eval_mode=False)
    pool = EnvPoolVecEnv(dataclasses.replace(p, backend="envpool"))
    try:
        obs, _ = gym_env.reset(seed=0)
        pool_obs, _ = pool.reset(seed=0)
        assert pool_obs.shape == (1, *obs.shape) and pool_obs.dtype == obs.dtype
        rng = np.random.default_rng(0)
        close, total, rewards = 0, 0, 0.0
        for _ in range(600):
            action = int(rng.choice(3, p=[0.2, 0.7, 0.1]))  # mostly UP: crossings score
            obs, reward, terminated, truncated, _ = gym_env.step(action)
            step = pool.step_all(np.array([action]))
            assert (reward, terminated, truncated) == (
                step.rewards[0],
                step.terminated[0],
                step.truncated[0],
            )
            diff = np.abs(obs.astype(int) - step.obs[0].astype(int))
            close, total = close + int((diff <= 1).sum()), total + diff.size
            rewards += reward
        assert rewards > 0  # the sequence crossed the road at least once: rewards were compared
        assert close == total
    finally:
        gym_env.close()
        pool.close()


def test_a_dqn_run_on_envpool_trains_and_says_resume_is_not_exact(tmp_path) -> None:
    from tests.conftest import run_config

    summary, algo = run_config(
        ["algo=dqn", "env=freeway", "env.backend=envpool", "env.num_envs=2", "seed=0",
         "device=cpu", "budget.frames=256", "algo.learning_starts=192", "algo.train_freq=16",
         "algo.batch_size=8", "algo.buffer_size=1000", "eval.every=0", "eval.episodes=1",
         "env.max_episode_frames=800", "checkpoint.every=0"],
        tmp_path,
    )  # fmt: skip
    assert summary["frames"] >= 256 and summary["status"] == "finished"
    restored = type(algo.envs).__name__
    assert restored == "EnvPoolVecEnv" and algo.envs.exact_resume is False
