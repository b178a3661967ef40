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
