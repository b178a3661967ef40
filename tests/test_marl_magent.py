"""MAgent battle (book ch. 9.4) on a real magent2 battle_v4: shapes and channel meaning of the
adapter, the book placement, the mean field, evaluation opponents, and MF-Q beating random."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("magent2")

from drlrun.algos.marl.core import TeamQNet  # noqa: E402
from drlrun.envs.magent import BattleParams, BattleTeams, book_positions, make_parallel  # noqa: E402
from drlrun.errors import DrlrunError  # noqa: E402
from tests.conftest import run_config  # noqa: E402


def test_book_placement_is_two_4x4_squares():
    team1, team2 = book_positions(30, 16, 1)
    assert sorted({x for x, _, _ in team1}) == [6, 8, 10, 12]
    assert sorted({x for x, _, _ in team2}) == [16, 18, 20, 22]
    assert sorted({y for _, y, _ in team1}) == [11, 13, 15, 17]


def test_parallel_battle_v4_shapes_and_channels():
    env = make_parallel(BattleParams())
    obs, _ = env.reset(seed=0)
    assert len(obs) == 32 and env.action_space("red_0").n == 21
    view = obs["red_0"]
    assert view.shape == (13, 13, 5)  # no minimap: wall, own, own HP, opponent, opponent HP
    assert view[6, 6, 1] == 1 and view[6, 6, 3] == 0  # the agent itself is own-team presence
    blue = obs["blue_0"]
    assert blue[6, 6, 1] == 1 and blue[..., 3].sum() > 0  # red agents within blue's 13x13 view
    env.close()


def test_team_env_gives_the_books_359_inputs_and_9500_params():
    env = BattleTeams(BattleParams())
    obs = env.reset(0)
    assert [o.shape for o in obs] == [(16, 338), (16, 338)] and env.n_actions == 21
    mf = env.mean_field(0, np.zeros(16, np.int64))
    assert mf.shape == (16, 21) and np.allclose(mf[:, 0], 1.0)  # everyone's teammates play 0
    net = TeamQNet(338 + 21, [25], 21, style="book")
    assert sum(p.numel() for p in net.parameters()) == 9500
    assert net(torch.from_numpy(np.concatenate([obs[0], mf], 1))).shape == (16, 21)
    steps, over, _ = env.step([np.zeros(16, np.int64), np.zeros(16, np.int64)])
    assert not over and steps[0].reward.shape == (16,) and steps[0].alive.all()
    env.close()


def test_mean_field_head_reads_the_mean_action_apart_from_the_view():
    torch.manual_seed(0)
    net = TeamQNet(338 + 21, [64, 64], 21, activation="relu", x_dim=21, x_hidden=[64, 32])
    shapes = [tuple(w.shape[1:]) for w in net.weights]
    assert shapes == [(338, 64), (64 + 32, 64), (64, 21), (21, 64), (64, 32)]
    view, mean_action = torch.rand(5, 338), torch.rand(5, 21)
    q = net(torch.cat([view, mean_action], 1))
    assert q.shape == (5, 21)
    assert not torch.allclose(q, net(torch.cat([view, torch.rand(5, 21)], 1)))  # reads x
    plain = TeamQNet(338 + 21, [64, 64], 21, x_dim=21)  # no head: one MLP over all 359 inputs
    assert [tuple(w.shape[1:]) for w in plain.weights][0] == (359, 64)
    with pytest.raises(ValueError, match="mean-field head"):
        TeamQNet(359, [25], 21, style="book", x_dim=21, x_hidden=[8])


def test_mean_field_counts_teammates_within_the_manhattan_radius():
    env = BattleTeams(BattleParams())
    pos = np.array([[0, 0], [0, 3], [0, 10], [4, 2]])
    mf = env._mean_field(pos, np.array([True, True, True, False]), np.array([1, 2, 3, 4]))
    np.testing.assert_allclose(mf[0, 2], 1.0)  # only agent 1 (distance 3); agent 3 is dead
    np.testing.assert_allclose(mf[1], np.eye(21)[1])  # agent 2 is at distance 7, not < 7
    assert mf[2].sum() == 0  # nobody within 7: the book's zero vector
    env.close()


def test_eval_opponent_is_validated(tmp_path):
    with pytest.raises(DrlrunError, match="eval.opponent"):
        run_config(["+experiment=ch9_magent_fixed", "eval.opponent=rival"], tmp_path)


TINY_BATTLE = [
    "+experiment=ch9_magent_fixed",
    "env.map_size=16",
    "env.team_size=4",
    "env.max_steps=100",
    "algo.train_opponent=random",
    "algo.learning_starts=200",
    "algo.train_freq=1",
    "algo.target_update=200",
    "budget.iterations=20",
    "eval.episodes=10",
    "seed=0",
]


@pytest.mark.slow
@pytest.mark.ci
def test_mfq_team_beats_a_random_team_in_a_tiny_battle(tmp_path):
    summary, _ = run_config(TINY_BATTLE, tmp_path)
    assert summary["win_rate"] >= 0.8, summary
    assert summary["kills_mean"] > summary["deaths_mean"]


def test_book_preset_never_changes_its_parameters_and_fixed_does():
    from drlrun.session import build
    from tests.conftest import compose

    def params(algo):
        return torch.cat([p.detach().flatten().clone() for p in algo.learners[0].net.parameters()])

    short = ["env.max_steps=30", "algo.train_freq=10", "algo.learning_starts=26"]
    for preset, changes in (("ch9_magent_book", False), ("ch9_magent_fixed", True)):
        built = build(compose(f"+experiment={preset}", *short), None, device="cpu")
        before = params(built.algo)
        assert built.algo._net_for_team(1) is built.algo.learners[0 if not changes else 1]
        built.algo.train_step()  # one battle of 30 steps, 3 updates per team
        assert built.algo.updates > 0
        assert (not torch.equal(before, params(built.algo))) == changes, preset
        built.algo.close()


def test_swapped_battles_are_scored_from_the_evaluated_team():
    from drlrun.algos.marl.opponents import swap_outcome

    info = {"win": 1.0, "draw": 0.0, "loss": 0.0, "kills": 3.0, "deaths": 1.0,
            "surviving_hp": 2.5, "opponent_hp": 0.5, "battle_length": 40.0}  # fmt: skip
    out = swap_outcome(info)
    assert (out["win"], out["loss"], out["kills"], out["deaths"]) == (0.0, 1.0, 1.0, 3.0)
    assert out["surviving_hp"] == 0.5 and out["battle_length"] == 40.0


def test_each_side_is_played_by_the_network_trained_on_it(tmp_path):
    """Views are not mirrored (team 0 sees enemies to the right, team 1 to the left): a run's
    policy on the second side is its second team's network, also when loaded as an opponent."""
    from drlrun import checkpoint
    from drlrun.algos.marl.opponents import load_opponent
    from drlrun.session import build
    from tests.conftest import compose

    built = build(compose("+experiment=ch9_magent_fixed", "env.max_steps=5"), None, device="cpu")
    algo = built.algo
    mine = algo.controller()
    assert [n is learner.net for n, learner in zip(mine.nets, algo.learners, strict=True)] == [
        True,
        True,
    ]
    assert mine.plays(1) and not mine.plays(2)
    path = checkpoint.save({"algo": algo.state_dict()}, tmp_path, 0, keep=1)
    loaded = load_opponent(str(path), 0.0)
    for net, learner in zip(loaded.nets, algo.learners, strict=True):
        for a, b in zip(net.parameters(), learner.net.parameters(), strict=True):
            assert torch.equal(a, b)
    summary = algo.evaluate(4, seed=0)
    assert summary["battles_first_side"] == summary["battles_second_side"] == 2
    algo.close()
    book = build(compose("+experiment=ch9_magent_book", "env.max_steps=5"), None, device="cpu")
    assert all(n is book.algo.learners[0].net for n in book.algo.controller().nets)  # bug 2
    book.algo.close()


def test_a_one_sided_run_plays_its_side_only_and_is_refused_as_an_opponent(tmp_path):
    short = ["+experiment=ch9_magent_fixed", "budget.iterations=1", "env.max_steps=20"]
    summary, _ = run_config([*short, "algo.train_opponent=random", "eval.episodes=2"],
                            tmp_path / "one")  # fmt: skip
    assert summary["battles_first_side"] == 2 and summary["battles_second_side"] == 0
    with pytest.raises(DrlrunError, match="first side only.*train_opponent=learn by this"):
        run_config([*short, f"eval.opponent=checkpoint:{tmp_path / 'one'}"], tmp_path / "two")


def test_checkpoint_opponent_from_another_run(tmp_path):
    short = ["+experiment=ch9_magent_fixed", "budget.iterations=1", "env.max_steps=20"]
    run_config([*short, "algo.interaction=none", "eval.episodes=0"], tmp_path / "iq")
    summary, _ = run_config(
        [*short, "eval.episodes=2", f"eval.opponent=checkpoint:{tmp_path / 'iq'}"], tmp_path / "mf"
    )
    assert summary["win_rate"] + summary["draw_rate"] + summary["loss_rate"] == 1.0
    with pytest.raises(DrlrunError, match="no checkpoint"):
        run_config([*short, f"eval.opponent=checkpoint:{tmp_path}"], tmp_path / "bad")


def test_minimap_frame_puts_team_0_on_the_left_in_red():
    env = BattleTeams(BattleParams())
    env.reset(0)
    frame = env.render()[::8, ::8]  # one pixel per cell
    assert tuple(frame[11, 6]) == (214, 39, 40) and tuple(frame[11, 16]) == (31, 119, 180)
    env.close()


def test_round_robin_script_plays_every_pairing(tmp_path, monkeypatch, capsys):
    import csv
    import runpy

    from omegaconf import OmegaConf

    from tests.conftest import compose

    short = ["+experiment=ch9_magent_fixed", "budget.iterations=1", "env.max_steps=20"]
    for name in ("a0", "a1", "b0"):
        overrides = [*short, "eval.episodes=0", f"seed={name[1]}"]
        run_config(overrides, tmp_path / name)
        OmegaConf.save(compose(*overrides), tmp_path / name / "config.yaml", resolve=True)
    out = tmp_path / "rr.csv"
    argv = ["rr", str(tmp_path / "a0"), str(tmp_path / "a1"), "vs", str(tmp_path / "b0"),
            "episodes=2", f"out={out}"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    runpy.run_path("scripts/battle_round_robin.py", run_name="__main__")
    rows = list(csv.DictReader(out.open()))
    assert [(r["a"][-2:], r["b"][-2:]) for r in rows] == [("a0", "b0"), ("a1", "b0")]
    for r in rows:
        assert float(r["win_rate"]) + float(r["draw_rate"]) + float(r["loss_rate"]) == 1.0
    assert "2 pairings x 2 battles" in capsys.readouterr().out


def test_mean_field_ablation_script_replaces_only_the_mean_field(tmp_path, monkeypatch, capsys):
    """scripts/mfq_mean_field_ablation.py: inside its context a mean-field policy reads zeros
    (or its team's mean fields shuffled), IQ reads nothing new, and the live function returns
    afterwards; run on two tiny runs it writes one row per pairing with all three modes."""
    import csv
    import runpy

    import numpy as np
    from omegaconf import OmegaConf

    import drlrun.algos.marl.core as core
    from tests.conftest import compose

    monkeypatch.syspath_prepend("scripts")
    ablation = runpy.run_path("scripts/mfq_mean_field_ablation.py")

    class Env:
        def mean_field(self, team, actions):
            return np.eye(3, dtype=np.float32)[actions]

    mean = core.PolicySpec(n_actions=3, use_obs=True, interaction="mean")
    none = core.PolicySpec(n_actions=3, use_obs=True, interaction="none")
    acts = np.array([0, 1, 2, 2])
    live = core.interaction_features(mean, Env(), 0, acts)
    with ablation["mean_field"]("zero", ablation["Counter"]()):
        assert not core.interaction_features(mean, Env(), 0, acts).any()
        assert core.interaction_features(none, Env(), 0, acts).shape == (4, 0)
    with ablation["mean_field"]("shuffled", ablation["Counter"]()):
        shuffled = core.interaction_features(mean, Env(), 0, acts)
        assert sorted(map(tuple, shuffled)) == sorted(map(tuple, live))
    assert np.array_equal(core.interaction_features(mean, Env(), 0, acts), live)

    short = ["+experiment=ch9_magent_fixed", "budget.iterations=1", "env.max_steps=20"]
    for name in ("a0", "b1"):
        overrides = [*short, "eval.episodes=0", f"seed={name[1]}"]
        run_config(overrides, tmp_path / name)
        OmegaConf.save(compose(*overrides), tmp_path / name / "config.yaml", resolve=True)
    out = tmp_path / "ablation.csv"
    argv = ["ab", str(tmp_path / "a0"), "vs", str(tmp_path / "b1"), "episodes=2", f"out={out}"]
    monkeypatch.setattr("sys.argv", argv)
    runpy.run_path("scripts/mfq_mean_field_ablation.py", run_name="__main__")
    (row,) = list(csv.DictReader(out.open()))
    assert {"win_live", "win_zero", "win_shuffled", "changed_fraction"} <= set(row)
    assert 0.0 <= float(row["changed_fraction"]) <= 1.0
    assert "1 pairings x 2 battles per mode" in capsys.readouterr().out
