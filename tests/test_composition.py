"""Composition: the torso follows the observation unless something stronger names one."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import compose

RULE = {
    "cartpole": "mlp",
    "freeway_ram": "mlp",
    "freeway": "nature_cnn",
    "mario84": "nature_cnn",
    "mario": "icm_cnn",
    "doorkey": "grid_cnn",
    "memory": "grid_cnn",
}


@pytest.mark.parametrize(("env", "net"), sorted(RULE.items()))
def test_the_observation_picks_the_torso_when_nothing_names_one(env, net):
    assert compose("algo=dist_dqn", f"env={env}").net.name == net


def test_command_line_and_the_algorithms_own_torso_beat_the_observation_rule():
    assert compose("algo=dqn", "env=freeway", "net=mlp").net.name == "mlp"
    ga = compose("algo=ga", "env=freeway").net  # GA/ES evolve the book's small policy
    assert ga.name == "mlp" and list(ga.hidden) == [25, 10]
    assert compose("algo=icm_dqn", "env=mario84").net.name == "icm_cnn"
    assert compose("+experiment=memory_s7").net.name == "mlp"  # a preset keeps its torso


@pytest.mark.parametrize("env", ["doorkey", "memory"])
def test_grid_cnn_reads_both_minigrid_encodings(env):
    from drlrun import registry

    cfg = compose("algo=dqn", f"env={env}")
    factory = registry.build("env", cfg.env)
    torso = registry.build("net", cfg.net, factory)
    obs = factory.make_env(False, False).reset(seed=0)[0]
    features = torso(torch.as_tensor(obs[None]))
    assert features.shape == (1, torso.out_features) and torch.isfinite(features).all()


def test_an_impossible_net_is_one_line(tmp_path):
    from drlrun.errors import DrlrunError
    from drlrun.session import build

    for net, env in (("grid_cnn", "cartpole"), ("nature_cnn", "doorkey")):
        with pytest.raises(DrlrunError) as err:
            build(compose(f"net={net}", f"env={env}"), tmp_path)
        assert "\n" not in str(err.value) and f"net={net}" in str(err.value)


def test_a_tuned_pair_brings_its_settings_and_the_command_line_still_wins():
    cfg = compose("algo=dist_dqn", "env=freeway")  # Dopamine's c51.gin on Atari pixels
    assert cfg.net.name == "nature_cnn"
    assert (cfg.algo.lr, cfg.algo.adam_eps, cfg.algo.v_min, cfg.algo.v_max) == (
        2.5e-4,
        3.125e-4,
        -10.0,
        10.0,
    )
    assert (cfg.algo.learning_starts, cfg.algo.target_update_every) == (20_000, 8_000)
    assert cfg.budget.frames == 50_000_000 and cfg.eval.epsilon == 0.001
    mine = compose("algo=dist_dqn", "env=freeway", "algo.lr=1e-3", "budget.frames=1000")
    assert mine.algo.lr == 1e-3 and mine.budget.frames == 1000 and mine.algo.v_min == -10.0
    qr = compose("algo=qr_dqn", "env=freeway")
    assert (qr.algo.quantiles, qr.algo.n_step, qr.algo.lr) == (200, 3, 5e-5)
    ram = compose("algo=dist_dqn", "env=freeway_ram")
    assert ram.net.name == "mlp" and list(ram.net.hidden) == [256, 256]
    assert (ram.algo.v_min, ram.budget.frames) == (-10.0, 150_000)
    assert compose("algo=mfq", "env=ising2d").algo.temperature == 0.1  # ch9_ising2d_fixed's


def test_every_preset_brings_its_own_settings_instead_of_a_tuned_pair():
    from pathlib import Path

    presets = Path(__file__).resolve().parents[1] / "drlrun" / "conf" / "experiment"
    for preset in sorted(presets.glob("*.yaml")):
        assert "- override /tuned: none" in preset.read_text(), preset.name


def test_the_headline_command_trains_evaluates_and_checkpoints(tmp_path):
    """`drlrun algo=dist_dqn env=freeway` with its tuned settings, cut to a few hundred frames."""
    import json

    from tests.conftest import run_cli

    out = run_cli(
        ["algo=dist_dqn", "env=freeway", "budget.frames=320", "algo.learning_starts=200",
         "algo.buffer_size=1000", "eval.every=160", "eval.episodes=1",
         "env.max_episode_frames=400", "checkpoint.every=160", "log.progress=false",
         "hydra.run.dir=run"],
        tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["eval_episodes"] == 1
    assert "loss" in (run / "metrics.csv").read_text().splitlines()[0]
    assert len(list((run / "checkpoints").glob("ckpt_*.pt"))) >= 2


def test_whole_network_algos_take_their_net_from_the_net_group_and_refuse_others(tmp_path):
    from drlrun.algos.accepts import check_choices
    from drlrun.errors import DrlrunError
    from drlrun.session import build

    # MF-Q's team network is net=team_mlp: its shape comes from net.*, the game's sizes from MF-Q
    cfg = compose("algo=mfq", "env=ising2d", "net.hidden=[16,8]", "net.activation=tanh")
    assert cfg.net.name == "team_mlp"
    built = build(cfg, tmp_path / "mfq")
    try:
        net = built.algo.learners[0].net
        assert [tuple(w.shape[1:]) for w in net.weights] == [
            (2, 16),
            (16, 8),
            (8, 2),
        ]  # mean action in, 2 spins out
        assert net.act is torch.tanh
    finally:
        built.algo.close()
    # the book's Dist-DQN network is net=book_dist: 128 -> 50 -> 3 x 51 holds 6,400 + 7,650
    cfg = compose("+experiment=ch7_freeway_fixed", "net.hidden=[50]")
    built = build(cfg, tmp_path / "dist_book")
    try:
        assert built.algo.n_params == 128 * 50 + 3 * 50 * 51
    finally:
        built.algo.close()
    cfg = compose("algo=dist_book", "env=doorkey")
    with pytest.raises(DrlrunError, match="flat-vector network") as err:
        build(cfg, tmp_path / "doorkey")  # the book's net reads vectors only: one line
    assert "\n" not in str(err.value)
    named = compose("algo=mfq", "env=ising2d", "net=nature_cnn")
    with pytest.raises(DrlrunError, match="built on its own network, net=team_mlp") as err:
        check_choices(named.algo, named.net, named.get("curiosity"), named.env)
    assert "\n" not in str(err.value)
    torso_user = compose("algo=dqn", "env=cartpole", "net=team_mlp")
    with pytest.raises(DrlrunError, match="whole network of algo=iq, .*mfq.*not a torso"):
        check_choices(torso_user.algo, torso_user.net, None, torso_user.env)


def test_curiosity_encoder_net_copies_the_net_groups_torso(tmp_path):
    from drlrun.nets.mlp import MLP

    cfg = compose(
        "algo=dqn", "env=cartpole", "curiosity=icm", "curiosity.encoder=net",
        "net=mlp", "net.hidden=[32]",
    )  # fmt: skip
    built = build_quiet(cfg, tmp_path)
    try:
        phi = built.algo.curiosity.module.phi
        assert isinstance(phi, MLP) and phi.out_features == 32
        assert phi is not built.algo.online.torso  # a copy with its own weights
    finally:
        built.algo.close()
    auto = build_quiet(compose("algo=dqn", "env=cartpole", "curiosity=icm"), tmp_path / "auto")
    try:
        assert auto.algo.curiosity.module.phi.out_features == 288  # the 2-layer ELU encoder
    finally:
        auto.algo.close()


def build_quiet(cfg, run_dir):
    from drlrun.session import build

    run_dir.mkdir(parents=True, exist_ok=True)
    return build(cfg, run_dir)


def test_an_unknown_tuned_pair_is_one_line_not_silently_ignored(tmp_path):
    from tests.conftest import run_cli

    out = run_cli(["tuned=bogus", "hydra.run.dir=run"], tmp_path)
    assert out.returncode == 2 and "unknown tuned 'bogus'" in out.stderr
    assert not (tmp_path / "run").exists()
