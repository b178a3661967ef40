"""Sequence replay and the sequence learner: episode boundaries, burn-in, n-step targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlrun.buffers.sequence import SequenceReplay
from drlrun.nets.transformer import TransformerParams, TransformerTorso


def filled_replay(num_envs: int = 2, episodes: int = 12, seed: int = 0) -> SequenceReplay:
    """Episodes of lengths 1..7 on interleaved envs; obs = (episode id + 1, t), reward 10 id + t;
    even episodes terminate, odd ones are truncated."""
    rng = np.random.default_rng(seed)
    replay = SequenceReplay(10_000, num_envs, (2,), np.float32)
    lengths = rng.integers(1, 8, size=episodes)
    queues = [list(range(e, episodes, num_envs)) for e in range(num_envs)]
    t = [0] * num_envs
    while any(queues):
        obs, rew = np.zeros((num_envs, 2), np.float32), np.zeros(num_envs, np.float32)
        term, trunc, final = np.zeros(num_envs, bool), np.zeros(num_envs, bool), {}
        for i in range(num_envs):
            if not queues[i]:  # this env is done; feed steps of a never-finished episode
                obs[i] = (-1, t[i])
                t[i] += 1
                continue
            ep = queues[i][0]
            obs[i], rew[i] = (ep + 1, t[i]), 10 * ep + t[i]
            t[i] += 1
            if t[i] == lengths[ep]:
                term[i], trunc[i] = ep % 2 == 0, ep % 2 == 1
                final[i] = np.array([ep + 1, t[i]], np.float32)
                queues[i].pop(0)
                t[i] = 0
        replay.add(obs, np.arange(num_envs) + 3 * obs[:, 1], rew, term, trunc, final)
    return replay


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("burn_in,seq_len,n_step", [(0, 4, 1), (3, 4, 3), (5, 2, 2)])
def test_windows_never_cross_episode_boundaries_unmasked(burn_in, seq_len, n_step, aligned):
    replay, gamma = filled_replay(), 0.9
    assert len(replay.episodes) == 12 and replay.steps == sum(
        len(e.actions) for e in replay.episodes
    )
    batch = replay.sample(256, np.random.default_rng(1), seq_len, burn_in, n_step, gamma, aligned)
    for b in range(256):
        window, first = batch.obs[b], batch.first[b]
        ep_id = window[burn_in, 0]
        ep = next(e for e in replay.episodes if e.obs[0, 0] == ep_id)
        length = len(ep.actions)
        s = int(window[burn_in, 1])  # the first loss step's time
        assert not aligned or s % seq_len == 0
        assert first == max(0, burn_in - s)
        assert (window[:first] == 0).all()  # left padding before the episode
        real = window[first:]
        inside = real[:, 0] == ep_id
        n_real = int(inside.sum())
        assert inside[:n_real].all() and (real[n_real:] == 0).all()  # then only right padding
        assert (real[:n_real, 1] == np.arange(len(real[:n_real])) + max(0, s - burn_in)).all()
        times = s + np.arange(seq_len)
        assert (batch.mask[b] == (times < length)).all()
        for j in np.flatnonzero(batch.mask[b]):
            t = times[j]
            assert batch.actions[b, j] == ep.actions[t]
            want = sum(gamma**k * ep.rewards[t + k] for k in range(n_step) if t + k < length)
            assert batch.returns[b, j] == pytest.approx(want, rel=1e-5)
            end = min(t + n_step, length)
            assert batch.boot[b, j] == end - s
            assert window[burn_in + batch.boot[b, j], 1] == end  # bootstrap obs: same episode
            terminal = end == length and ep.terminated
            assert batch.discounts[b, j] == pytest.approx(0.0 if terminal else gamma ** (end - t))


def test_aligned_windows_train_short_episodes_whole():
    """With seq_len >= every episode's length, each aligned window is one whole episode."""
    replay = filled_replay()
    longest = max(len(e.actions) for e in replay.episodes)
    batch = replay.sample(64, np.random.default_rng(0), longest, 2, 1, 0.9, aligned=True)
    starts = batch.obs[:, 2, 1]  # the time of each window's first loss step
    assert (starts == 0).all() and (batch.first == 2).all()
    for b in range(64):
        ep = next(e for e in replay.episodes if e.obs[0, 0] == batch.obs[b, 2, 0])
        assert batch.mask[b].sum() == len(ep.actions)


def test_replay_state_round_trip_and_eviction():
    replay = filled_replay()
    clone = SequenceReplay(10_000, 2, (2,), np.float32)
    clone.load_state_dict(replay.state_dict())
    a = replay.sample(16, np.random.default_rng(3), 3, 2, 2, 0.9)
    b = clone.sample(16, np.random.default_rng(3), 3, 2, 2, 0.9)
    assert all(
        np.array_equal(x, y)
        for x, y in zip(vars(a).values(), vars(b).values(), strict=True)
        if x is not None
    )
    assert [len(p["obs"]) for p in clone.partial] == [len(p["obs"]) for p in replay.partial]
    small = SequenceReplay(10, 2, (2,), np.float32)
    for e in replay.episodes:
        small.store(e)
    assert small.steps <= 10 and small.steps == sum(len(e.actions) for e in small.episodes)


def test_transformer_burn_in_cache_matches_stepwise_burn_in():
    torch.manual_seed(0)
    net = TransformerTorso(3, TransformerParams(context=4))
    obs, first = torch.randn(3, 5, 3), torch.tensor([0, 3, 5])
    fast = net.burn_in(obs, first)
    slow = super(TransformerTorso, net).burn_in(obs, first)
    assert fast[1].tolist() == [[True] * 3, [False, True, True], [False] * 3]
    assert torch.equal(fast[1], slow[1])
    assert torch.allclose(fast[0] * fast[1].unsqueeze(-1), slow[0] * slow[1].unsqueeze(-1))


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """A sequence learner (LSTM, recall env) with a replay filled by its own acting."""
    from drlrun.session import build
    from tests.conftest import compose

    cfg = compose(
        "env=recall", "env.delay=4", "net=lstm", "net.hidden=16", "net.embed=8",
        "algo.learning_starts=100000", "algo.seq_len=3", "algo.burn_in=3", "algo.n_step=2",
        "algo.batch_size=64", "log.tensorboard=false", "log.progress=false",
    )  # fmt: skip
    built = build(cfg, tmp_path_factory.mktemp("run"))
    algo = built.algo
    for _ in range(3):
        algo.train_step()
    yield algo
    algo.close()
    built.env.close()


def test_dqn_replays_sequences_for_sequence_nets(learner):

    assert learner.actor.stateful and len(learner.replay.episodes) > 10


def sequence_loss(learner, batch):
    """The learner's loss on a given batch of windows, and the torso's own loss."""
    inputs = learner.batches.inputs(batch)
    out = learner.loss.loss(inputs.online, inputs.target, inputs.batch, learner.p.double)
    return out, inputs.torso_loss


def test_burn_in_carries_no_loss(learner):
    batch = learner.replay.sample(64, np.random.default_rng(0), 3, 3, 2, 0.99)
    assert (batch.first < 3).any()  # some windows really have a burn-in prefix
    torch.manual_seed(0)
    out, _ = sequence_loss(learner, batch)
    # rewrite every burn-in observation (and padding): the loss must not change
    changed = batch.obs.copy()
    changed[:, :3] = np.random.default_rng(1).random(changed[:, :3].shape)
    batch_changed = type(batch)(**{**vars(batch), "obs": changed})
    out_burn, _ = sequence_loss(learner, batch_changed)
    # the state after burn-in does depend on those observations ...
    torso = learner.online.torso
    state = torso.burn_in(torch.as_tensor(batch.obs[:, :3]), torch.as_tensor(batch.first))
    state2 = torso.burn_in(torch.as_tensor(changed[:, :3]), torch.as_tensor(batch.first))
    moved = ~torch.isclose(state[0], state2[0]).all(-1)
    assert torch.equal(moved, torch.as_tensor(batch.first < 3))
    # ... but it carries no gradient, and the loss counts only the masked loss positions
    assert not any(s.requires_grad for s in state)
    learner.optimizer.zero_grad()
    out_burn.loss.backward()
    assert out.loss.item() != pytest.approx(out_burn.loss.item())  # the state changed the loss
    assert out.td_abs.shape[0] == int(batch.mask.sum())
    # a loss-position reward changes the loss; the loss-position rewards are all it sees
    returns = batch.returns.copy()
    returns[batch.mask] += 1.0
    out_ret, _ = sequence_loss(learner, type(batch)(**{**vars(batch), "returns": returns}))
    assert out_ret.loss.item() != pytest.approx(out.loss.item())


@pytest.mark.parametrize("net", ["memory", "transformer"])
def test_sequence_learner_resumes_exactly(tmp_path, net):
    """Save a checkpoint, load it into a fresh learner: the next train steps are identical."""
    from drlrun import checkpoint
    from drlrun.session import build
    from tests.conftest import compose

    overrides = [
        "env=recall", "env.num_envs=2", f"net={net}", "algo.learning_starts=64",
        "algo.train_freq=32", "algo.gradient_steps=1", "algo.batch_size=4", "algo.seq_len=4",
        "algo.burn_in=2",
    ]  # fmt: skip
    if net == "memory":
        overrides += ["net.hidden=16", "net.slots=3", "net.width=4", "net.read=hard"]
    else:
        overrides += ["net.context=3", "net.width=16", "net.ff=16"]
    a, b = build(compose(*overrides), tmp_path / "a"), build(compose(*overrides), tmp_path / "b")
    a.algo.train_step()
    a.algo.train_step()
    path = checkpoint.save(a.algo.state_dict(), tmp_path, a.algo.frames, keep=1)
    b.algo.load_state_dict(checkpoint.load(path))
    for _ in range(2):
        torch.manual_seed(7)  # the hard read's Gumbel noise uses torch's global generator
        ma = a.algo.train_step().metrics
        torch.manual_seed(7)
        mb = b.algo.train_step().metrics
        assert ma == mb and "loss" in ma
    for built in (a, b):
        built.algo.close()
        built.env.close()


@pytest.mark.parametrize("algo", ["dist_dqn", "qr_dqn", "double_dqn"])
def test_every_objective_trains_on_sequences(tmp_path, algo):
    """C51, QR and Double targets run unchanged through the sequence learner."""
    from drlrun.session import build
    from tests.conftest import compose

    cfg = compose(
        f"algo={algo}", "env=recall", "net=lstm", "net.hidden=8", "net.embed=8",
        "algo.learning_starts=32", "algo.train_freq=32", "algo.batch_size=4", "algo.n_step=2",
        "algo.seq_len=3", "algo.burn_in=2", "algo.double=true",
    )  # fmt: skip
    built = build(cfg, tmp_path)
    try:
        assert built.algo.actor.stateful
        metrics = built.algo.train_step().metrics
        assert np.isfinite(metrics["loss"]) and built.algo.updates > 0
    finally:
        built.algo.close()
        built.env.close()


def test_c51_panel_on_a_sequence_torso_reads_the_episode_so_far(tmp_path):
    """The C51 video panel works for sequence torsos: it shows the distributions the stateful
    actor would act on (its history included), without advancing that actor's state."""
    from drlrun.session import build
    from drlrun.viz.probe import FrameView, build_probes
    from tests.conftest import compose

    cfg = compose(
        "algo=dist_dqn", "env=recall", "net=lstm", "net.hidden=8", "net.embed=8",
        "algo.learning_starts=32", "algo.train_freq=32", "algo.batch_size=4",
        "algo.seq_len=3", "algo.burn_in=2",
    )  # fmt: skip
    built = build(cfg, tmp_path)
    try:
        algo = built.algo
        algo.train_step()
        (probe,) = [p for p in build_probes(algo) if type(p).__name__ == "DistributionProbe"]
        actor = algo.evaluator.current = algo.actor.fresh(1)  # as during a recorded evaluation
        actor.greedy(algo.obs[:1])  # one step into the episode
        state = [s.clone() for s in actor.state]
        frame = probe.frame(np.zeros((120, 160, 3), np.uint8), FrameView(algo.obs[:1], None, 0))
        assert frame.shape[0] == 120 and frame.shape[1] > 160  # the panel sits beside the frame
        assert all(torch.equal(a, b) for a, b in zip(state, actor.state, strict=True))
    finally:
        built.algo.close()
        built.env.close()


@pytest.mark.parametrize("override", ["+algo.positive_copies=5", "curiosity=rnd"])
def test_sequence_replay_refuses_what_it_cannot_do_in_one_line(tmp_path, override):
    from drlrun.errors import DrlrunError
    from drlrun.session import build
    from tests.conftest import compose

    cfg = compose("env=recall", "net=lstm", "env.num_envs=1", override)
    with pytest.raises(DrlrunError) as err:
        build(cfg, tmp_path)
    message = str(err.value)
    assert "\n" not in message and "feedforward" in message
    assert override.split("=")[0].split(".")[-1] in message or "curiosity=rnd" in message
