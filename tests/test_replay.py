"""Replay: frame stacks rebuilt across episode boundaries, n-step returns, truncation bootstrap.

A reference stream of uniquely numbered frames is played through the buffer exactly as the
FrameStack wrapper and the vector env would deliver it; every sampled transition is compared
with the stacks and returns computed directly from the stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from drlrun.buffers.replay import ReplayBuffer
from drlrun.errors import DrlrunError


def play(k: int, num_envs: int, steps: int, seed: int):
    """Generate (obs, action, reward, terminated, truncated, final_obs) vector steps plus, per
    env, the ground-truth list of transitions (obs, reward, done flags, next_obs)."""
    rng = np.random.default_rng(seed)
    counter = [1]

    def new_frame() -> np.ndarray:
        counter[0] += 1
        return np.full((2, 2), counter[0] % 251, dtype=np.uint8) + np.array(
            [[0, 0], [0, counter[0] // 251]], dtype=np.uint8
        )

    def reset_stack() -> list[np.ndarray]:
        f = new_frame()
        return [f] * k

    stacks = [reset_stack() for _ in range(num_envs)]
    vec_steps, truth = [], [[] for _ in range(num_envs)]
    for _ in range(steps):
        obs = np.stack([np.stack(s) for s in stacks])
        actions = rng.integers(0, 3, num_envs)
        rewards = rng.normal(size=num_envs).astype(np.float32)
        terminated = rng.random(num_envs) < 0.08
        truncated = ~terminated & (rng.random(num_envs) < 0.06)
        final = {}
        for e in range(num_envs):
            stacks[e] = stacks[e][1:] + [new_frame()]
            nxt = np.stack(stacks[e])
            truth[e].append((obs[e], actions[e], rewards[e], terminated[e], truncated[e], nxt))
            if terminated[e] or truncated[e]:
                final[e] = nxt
                stacks[e] = reset_stack()
        vec_steps.append((obs, actions, rewards, terminated, truncated, final))
    return vec_steps, truth


def squeeze(x: np.ndarray, k: int) -> np.ndarray:
    return x if k > 1 else x[0]


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("n_step", [1, 3])
def test_samples_match_the_stream(k: int, n_step: int) -> None:
    num_envs, steps, gamma = 3, 120, 0.9
    vec_steps, truth = play(k, num_envs, steps, seed=k * 10 + n_step)
    obs_shape = (k, 2, 2) if k > 1 else (2, 2)
    buf = ReplayBuffer(50 * num_envs, num_envs, obs_shape, np.dtype(np.uint8), frame_stack=k)
    for obs, actions, rewards, term, trunc, final in vec_steps:
        if k == 1:
            obs = obs[:, 0]
            final = {e: v[0] for e, v in final.items()}
        buf.add(obs, actions, rewards, term, trunc, final)
    assert buf.filled == 50 and buf.can_sample(n_step)
    batch = buf.sample(400, np.random.default_rng(0), n_step=n_step, gamma=gamma)
    for i in range(400):
        row, env = batch.rows[i], batch.envs[i]
        t = steps - 1 - ((buf.pos - 1 - row) % buf.rows)  # step index in the stream
        obs, action, _, _, _, _ = truth[env][t]
        np.testing.assert_array_equal(batch.obs[i], squeeze(obs, k))
        assert batch.actions[i] == action
        ret, disc, nxt = 0.0, gamma**n_step, None
        for j in range(n_step):
            _, _, r, term, trunc, next_obs = truth[env][t + j]
            ret += gamma**j * r
            if term:
                disc, nxt = 0.0, None
                break
            if trunc:
                disc, nxt = gamma ** (j + 1), next_obs
                break
            nxt = next_obs
        assert batch.returns[i] == pytest.approx(ret, abs=1e-5)
        assert batch.discounts[i] == pytest.approx(disc)
        if nxt is not None:
            np.testing.assert_array_equal(batch.next_obs[i], squeeze(nxt, k))


def test_state_round_trip_continues_identically() -> None:
    vec_steps, _ = play(4, 2, 60, seed=1)
    a = ReplayBuffer(40, 2, (4, 2, 2), np.dtype(np.uint8), frame_stack=4)
    b = ReplayBuffer(40, 2, (4, 2, 2), np.dtype(np.uint8), frame_stack=4)
    for step in vec_steps[:30]:
        a.add(*step)
    b.load_state_dict(a.state_dict())
    for step in vec_steps[30:]:
        a.add(*step)
        b.add(*step)
    sa = a.sample(64, np.random.default_rng(3), n_step=2)
    sb = b.sample(64, np.random.default_rng(3), n_step=2)
    np.testing.assert_array_equal(sa.obs, sb.obs)
    np.testing.assert_array_equal(sa.next_obs, sb.next_obs)


def test_atari_sized_buffer_stores_each_frame_once() -> None:
    """A 1M-transition 84x84 buffer needs ~7.1 GB of frames, not 2 x 4 stacked copies."""
    buf = ReplayBuffer(10_000, 1, (4, 84, 84), np.dtype(np.uint8), frame_stack=4)
    per_transition = buf.nbytes / 10_000
    assert per_transition < 84 * 84 + 32
    assert per_transition * 1_000_000 < 7.5e9


def test_random_shift_is_an_edge_padded_crop_and_resumes_its_draws() -> None:
    """algo.augment=shift: each image equals np.pad(edge) cropped at its drawn offset, all
    channels (stacked frames) alike; the generator's state round-trips for exact resume."""
    from drlrun.algos.q.augment import RandomShift, random_shift

    images = np.random.default_rng(0).integers(0, 255, size=(6, 4, 12, 10), dtype=np.uint8)
    rng = np.random.default_rng(1)
    shifted = random_shift(images, 3, rng)
    dy, dx = np.random.default_rng(1).integers(0, 7, size=(2, 6)) - 3
    for i in range(6):
        padded = np.pad(images[i], ((0, 0), (3, 3), (3, 3)), mode="edge")
        top, left = 3 + dy[i], 3 + dx[i]
        np.testing.assert_array_equal(shifted[i], padded[:, top : top + 12, left : left + 10])
    assert shifted.dtype == np.uint8 and (dy != 0).any()

    aug = RandomShift(4, seed=0, obs_shape=(4, 12, 10))
    state = aug.state_dict()
    first = aug.rng.integers(0, 1000, size=5)
    aug.load_state_dict(state)
    np.testing.assert_array_equal(aug.rng.integers(0, 1000, size=5), first)
    with pytest.raises(DrlrunError, match="needs image observations"):
        RandomShift(4, seed=0, obs_shape=(128,))
