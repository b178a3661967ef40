"""Curiosity modules (ICM, RND), the curiosity config group and the book's ICM-DQN options."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from drlrun.algos.q.losses.base import TDBatch
from drlrun.algos.q.params import QParams
from drlrun.algos.q.transforms.curiosity import (
    ICM,
    RND,
    CuriosityParams,
    build_curiosity,
    encoder_factory,
)
from drlrun.book.icm_dqn import BookICMParams, BookICMQ
from drlrun.errors import DrlrunError
from drlrun.nets.heads import LinearHead, QNetwork
from drlrun.nets.icm import ICMQTorso, Phi
from tests.conftest import compose, run_config

BOOK_SHAPE = (3, 42, 42)
SMALL = (3, 21, 21)  # 128 features: keeps the training tests fast


def _image_env(shape=BOOK_SHAPE) -> SimpleNamespace:
    space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)
    return SimpleNamespace(observation_space=space, kind="image", obs_scale=255.0, name="img")


def _icm(env: SimpleNamespace, p: CuriosityParams, n_actions: int = 12) -> ICM:
    return ICM(encoder_factory(p, env, None), n_actions, p)


def _rnd(env: SimpleNamespace, p: CuriosityParams) -> RND:
    return RND(encoder_factory(p, env, None), p)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_icm_shapes_and_parameter_counts_match_the_inventory() -> None:
    icm = _icm(_image_env(), CuriosityParams())
    assert icm.phi.out_features == 288  # 42 -> 21 -> 11 -> 6 -> 3, 32 * 3 * 3
    assert _count(icm.phi) == 28_640
    assert _count(icm.inverse) == 150_796
    assert _count(icm.forward_model) == 151_072
    q = QNetwork(ICMQTorso(BOOK_SHAPE, 255.0, 100), LinearHead(100, 12))
    assert _count(q) == 58_752
    assert q(torch.zeros(5, *BOOK_SHAPE, dtype=torch.uint8)).shape == (5, 12)


def _transition(seed: int, n: int = 8, shape=BOOK_SHAPE):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    nxt = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    actions = torch.randint(0, 12, (n,), generator=g)
    return obs, actions, nxt


def _grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).sum()) if grads else 0.0


def test_forward_loss_leaves_the_encoder_and_inverse_loss_trains_it() -> None:
    torch.manual_seed(0)
    icm = _icm(_image_env(), CuriosityParams())
    _, fwd, inv = icm.losses(*_transition(0))
    fwd.mean().backward(retain_graph=True)
    assert _grad_norm(icm.phi) == 0.0 and _grad_norm(icm.forward_model) > 0
    icm.zero_grad()
    inv.mean().backward()
    assert _grad_norm(icm.phi) > 0 and _grad_norm(icm.inverse) > 0
    assert _grad_norm(icm.forward_model) == 0.0


def test_book_loss_weighting_swaps_forward_and_inverse() -> None:
    fwd, inv = torch.tensor([2.0]), torch.tensor([10.0])
    paper = _icm(_image_env(), CuriosityParams(beta=0.2))
    book = _icm(_image_env(), CuriosityParams(beta=0.2, loss_weights="book"))
    assert paper.aux_loss(fwd, inv).item() == pytest.approx(0.8 * 10 + 0.2 * 2)
    assert book.aux_loss(fwd, inv).item() == pytest.approx(0.8 * 2 + 0.2 * 10)


def _train(module, steps: int, batch) -> None:
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(steps):
        if isinstance(module, ICM):
            _, fwd, inv = module.losses(*batch)
            loss = module.aux_loss(fwd, inv)
        else:
            loss = module.losses(batch[2])[1].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_icm_reward_is_larger_on_a_novel_transition_than_on_a_fitted_one() -> None:
    torch.manual_seed(0)
    icm = _icm(_image_env(SMALL), CuriosityParams(inverse_scale=1.0))
    seen, novel = _transition(1, shape=SMALL), _transition(2, shape=SMALL)
    _train(icm, 100, seen)
    with torch.no_grad():
        r_seen = icm.losses(*seen)[0].mean().item()
        r_novel = icm.losses(*novel)[0].mean().item()
    assert r_novel > 3 * r_seen


def test_rnd_reward_falls_on_repeated_states() -> None:
    torch.manual_seed(0)
    rnd = _rnd(_image_env(SMALL), CuriosityParams(l2_normalize_input=False))
    batch = _transition(3, shape=SMALL)
    with torch.no_grad():
        before = rnd.losses(batch[2])[0].mean().item()
    _train(rnd, 100, batch)
    with torch.no_grad():
        after = rnd.losses(batch[2])[0].mean().item()
        other = rnd.losses(_transition(4, shape=SMALL)[2])[0].mean().item()
    assert after < 0.2 * before and other > after
    assert not any(p.requires_grad for p in rnd.target.parameters())


def test_relabel_replaces_returns_with_intrinsic_when_extrinsic_is_off() -> None:
    cfg = {"name": "icm", "extrinsic": False, "track_episodes": False}
    cur = build_curiosity(cfg, _image_env(), 12, torch.device("cpu"), n_step=1)
    obs, actions, nxt = _transition(5)
    batch = TDBatch(obs, actions, torch.full((8,), 100.0), torch.full((8,), 0.2), nxt, None)
    out, aux = cur.relabel(batch)
    assert aux.requires_grad and not out.returns.requires_grad
    assert (out.returns > 0).all() and (out.returns < 100).all()  # 100 extrinsic dropped
    with pytest.raises(DrlrunError, match="n_step=1"):
        build_curiosity({"name": "icm"}, _image_env(), 12, torch.device("cpu"), n_step=3)


def test_book_q_loss_batch_max_uses_one_scalar_for_every_row() -> None:
    online = torch.nn.Linear(4, 3)
    obs = torch.randn(6, 4)
    actions = torch.randint(0, 3, (6,))
    batch = TDBatch(obs, actions, torch.zeros(6), torch.full((6,), 0.2), torch.randn(6, 4), None)
    core = QParams(gamma=0.2, n_step=1)
    out_batch = BookICMQ(BookICMParams(batch_max=True), core).loss(online, online, batch, False)
    out_row = BookICMQ(BookICMParams(), core).loss(online, online, batch, False)
    with torch.no_grad():
        q = online(obs).gather(1, actions.view(-1, 1)).squeeze(1)
        y_batch = 0.2 * online(batch.next_obs).max()
        y_row = 0.2 * online(batch.next_obs).max(dim=1).values
    assert torch.allclose(out_batch.td_abs, (y_batch - q).abs())
    assert torch.allclose(out_row.td_abs, (y_row - q).abs())


def test_curiosity_group_sets_one_step_returns_and_rnd_composes() -> None:
    cfg = compose("algo=dist_dqn", "curiosity=icm")
    assert cfg.algo.n_step == 1 and cfg.curiosity.name == "icm"
    assert compose("curiosity=rnd").curiosity.normalize == "running_std"
    assert compose().curiosity.name == "none"


@pytest.mark.slow
@pytest.mark.ci  # a README feature (curiosity on any DQN-family learner), 6 s
def test_dist_dqn_with_icm_runs_on_freeway(tmp_path: Path) -> None:
    overrides = [
        "algo=dist_dqn",
        "curiosity=icm",
        "env=freeway",
        "net=nature_cnn",
        "budget.frames=96",
        "algo.learning_starts=32",
        "algo.train_freq=32",
        "algo.gradient_steps=1",
        "algo.batch_size=8",
        "algo.buffer_size=500",
        "eval.every=0",
        "eval.episodes=0",
        "checkpoint.every=0",
        "log.every=64",
    ]
    summary, algo = run_config(overrides, tmp_path)
    assert summary["status"] == "finished"
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert any(r.get("forward_loss") for r in rows) and any(r.get("inverse_loss") for r in rows)


def test_short_icm_run_on_mario_writes_its_metrics(tmp_path: Path) -> None:
    pytest.importorskip("gym_super_mario_bros")
    overrides = [
        "+experiment=ch8_mario_icm_fixed",
        "budget.frames=32",
        "algo.learning_starts=8",
        "algo.batch_size=4",
        "algo.softmax_steps=16",
        "env.stuck_steps=5",
        "eval.episodes=1",
        "env.max_episode_steps=12",
        "checkpoint.every=0",
        "log.every=16",
    ]
    summary, _ = run_config(overrides, tmp_path)
    assert summary["status"] == "finished" and summary["train_episodes"] >= 1
    assert "eval_max_x_pos" in summary
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    for key in ("q_loss", "forward_loss", "inverse_loss", "intrinsic_reward"):
        assert any(r.get(key) for r in rows), key
    episodes = list(csv.DictReader((tmp_path / "episodes.csv").open()))
    assert {"max_x_pos", "x_pos", "intrinsic_return", "return"} <= set(episodes[0])
    # the summary's max is the max over the logged episodes, each at least where it ended
    assert summary["train_max_x_pos"] == max(float(e["max_x_pos"]) for e in episodes)
    assert all(float(e["max_x_pos"]) >= float(e["x_pos"]) >= 0 for e in episodes)
    for png in ("x_pos.png", "curiosity_losses.png"):
        assert (tmp_path / png).stat().st_size > 0


def test_book_preset_acts_with_softmax_then_only_actions_0_to_6() -> None:
    pytest.importorskip("gym_super_mario_bros")
    from drlrun.session import build

    algo = build(compose("+experiment=ch8_mario_icm_book"), None).algo
    try:
        assert algo.curiosity.p.loss_weights == "book" and algo.p.objective == "icm_book"
        obs = np.repeat(algo.obs, 200, axis=0)
        soft = algo.act(obs, 0.0)  # the first 1,000 steps sample softmax(normalize(Q))
        assert soft.max() > 6
        algo.frames = 1000
        explore = algo.act(obs, 1.0)  # then epsilon-greedy with randint(0, 7)
        assert explore.max() <= 6 and len(set(explore.tolist())) == 7
        evaluation = algo.explorer(obs, 1.0, np.random.default_rng(0), algo.actor)
        assert evaluation.max() <= 6  # evaluation too
    finally:
        algo.close()


def test_video_probe_draws_the_intrinsic_reward_under_each_frame() -> None:
    from types import SimpleNamespace

    from drlrun.algos.q.transforms.curiosity_probe import CuriosityProbe
    from drlrun.viz.probe import FrameView

    cur = build_curiosity({"name": "icm"}, _image_env(SMALL), 12, torch.device("cpu"), n_step=1)
    probe = CuriosityProbe(SimpleNamespace(curiosity=cur, to_tensor=torch.as_tensor))
    rng = np.random.default_rng(0)
    frames: list[np.ndarray] = []
    prev = action = None
    for t in range(5):
        obs = _transition(t, n=1, shape=SMALL)[0].numpy()
        view = FrameView(obs, None, 0, prev, action)
        frames.append(probe.frame(np.zeros((240, 256, 3), dtype=np.uint8), view))
        prev, action = obs, rng.integers(0, 12, 1)
    assert frames[-1].shape == (240 + 64, 256, 3) and len(probe.rewards) == 4
    assert frames[-1][240:].any() and not frames[0][240:].any()


def test_book_l2_normalize_erases_intensity_of_identical_frames() -> None:
    """Bug 12: F.normalize across 3 identical frames maps every non-black pixel to the same
    vector, so two different images give identical features; the fixed switch keeps them apart."""
    torch.manual_seed(0)
    dark = torch.full((1, 3, 21, 21), 60, dtype=torch.uint8)
    bright = torch.full((1, 3, 21, 21), 250, dtype=torch.uint8)
    book = Phi((3, 21, 21), 255.0, l2_normalize=True)
    fixed = Phi((3, 21, 21), 255.0, l2_normalize=False)
    assert torch.allclose(book(dark), book(bright))
    assert not torch.allclose(fixed(dark), fixed(bright))
