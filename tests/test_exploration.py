"""ez-greedy (algo.ez_mu): held random actions, their length law, episode cuts, evaluation and
checkpoint state; the default (plain epsilon-greedy) draws exactly as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlrun import checkpoint
from drlrun.algos.q.collector import EpsilonGreedy
from drlrun.envs.vector import VecStep
from drlrun.errors import DrlrunError
from drlrun.session import build
from tests.conftest import compose

GREEDY = 99


class ConstantActor:
    """Greedy action 99 everywhere (so exploring steps are told apart)."""

    stateful = False

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        return np.full(len(obs), GREEDY)


def _ez(mu: float = 2.0, cap: int = 10_000) -> EpsilonGreedy:
    explorer = EpsilonGreedy(4)
    explorer.extend_temporally(mu, cap)
    return explorer


def _runs(actions: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of non-greedy steps of one env."""
    lengths, current = [], 0
    for a in actions:
        if a == GREEDY:
            lengths += [current] if current else []
            current = 0
        else:
            current += 1
    return lengths


def test_a_started_exploration_holds_its_action_for_a_zeta_length() -> None:
    explorer, rng, obs = _ez(), np.random.default_rng(0), np.zeros((1, 2))
    actions = np.array([explorer(obs, 0.05, rng, ConstantActor())[0] for _ in range(40_000)])
    runs = _runs(actions)
    # Zeta(2): P(n = 1) = 6 / pi^2 = 0.61; a run may join two back-to-back holds (rare at 0.05)
    assert 0.55 < np.mean(np.array(runs) == 1) < 0.66
    assert max(runs) > 50  # the heavy tail plain epsilon-greedy (0.05^50) never shows
    # inside a run the action never changes unless a new hold starts right after the last
    inside = (actions[1:] != GREEDY) & (actions[:-1] != GREEDY)
    changes = np.sum(inside & (actions[1:] != actions[:-1]))
    assert changes < 0.1 * len(runs)


def test_plain_epsilon_greedy_is_unchanged_by_the_option() -> None:
    """Without extend_temporally the random stream and actions are the pre-ez ones."""
    rng, obs = np.random.default_rng(3), np.zeros((5, 2))
    got = [EpsilonGreedy(4)(obs, 0.3, rng, ConstantActor()) for _ in range(50)]
    rng = np.random.default_rng(3)
    want = []
    for _ in range(50):
        explore = rng.random(5) < 0.3
        random_actions = rng.integers(0, 4, size=5)
        want.append(np.where(explore, random_actions, GREEDY))
    np.testing.assert_array_equal(np.array(got), np.array(want))


def test_a_hold_ends_with_its_episode_and_is_capped() -> None:
    explorer, rng, obs = _ez(mu=1.01, cap=7), np.random.default_rng(1), np.zeros((2, 2))
    explorer(obs, 1.0, rng, ConstantActor())  # both envs start a hold
    assert 0 <= explorer.left.max() <= 6  # capped at 7 steps, one already taken
    done = np.array([True, False])
    left = explorer.left.copy()
    step = VecStep(obs, np.zeros(2), done, np.zeros(2, dtype=bool), {}, [])
    explorer.after_step(step)
    assert explorer.left[0] == 0 and explorer.left[1] == left[1]


def test_evaluation_acts_plain_epsilon_greedy() -> None:
    explorer = _ez()
    plain = explorer.for_evaluation()
    assert plain.ez_mu is None and plain.n_random == explorer.n_random


def test_ez_mu_must_be_a_zeta_exponent() -> None:
    with pytest.raises(DrlrunError, match="ez_mu must be > 1"):
        build(compose("algo=dqn", "algo.ez_mu=1.0"), None, device="cpu")


def test_restored_ez_greedy_learner_continues_identically(tmp_path) -> None:
    overrides = ["algo=dqn", "algo.ez_mu=2.0", "algo.eps_start=0.3", "algo.eps_end=0.3"]
    overrides += ["net.hidden=[16]", "algo.learning_starts=200", "algo.train_freq=4"]
    a = build(compose(*overrides), None, device="cpu")
    while a.algo.frames < 400:
        a.algo.train_step()
    path = checkpoint.save(a.algo.state_dict(), tmp_path, a.algo.frames, keep=1)
    state = checkpoint.load(path)
    assert "ez_left" in state and "ez_held" in state
    b = build(compose(*overrides), None, device="cpu")
    b.algo.load_state_dict(state)
    np.testing.assert_array_equal(b.algo.explorer.left, a.algo.explorer.left)
    for built in (a, b):
        while built.algo.frames < 800:
            built.algo.train_step()
    for x, y in zip(a.algo.online.parameters(), b.algo.online.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    for built in (a, b):
        built.algo.close()
        built.env.close()
