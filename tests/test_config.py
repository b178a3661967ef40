"""Config composition: every group option and preset composes, validates and builds."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from drlrun import registry
from drlrun.cli import group_options
from drlrun.settings import validate
from tests.conftest import compose


def test_default_config_is_the_cartpole_dqn_run() -> None:
    cfg = compose()
    assert cfg.algo.name == "dqn" and cfg.env.id == "CartPole-v1" and cfg.net.name == "mlp"
    top = validate(cfg)
    assert top.budget.frames == 50_000 and top.seed == 0


@pytest.mark.parametrize("preset", group_options("experiment"))
def test_every_preset_composes_and_validates(preset: str) -> None:
    cfg = compose(f"+experiment={preset}")
    validate(cfg)
    registry.lookup("algo", cfg.algo.name)
    registry.lookup("env", cfg.env.name)
    if "net" in cfg and cfg.net is not None and "name" in cfg.net:
        registry.lookup("net", cfg.net.name)


def test_cleanrl_dqn_cartpole_matches_cleanrl_defaults() -> None:
    cfg = compose("+experiment=cleanrl_dqn_cartpole")
    a = cfg.algo
    assert list(cfg.net.hidden) == [120, 84]
    assert (a.lr, a.buffer_size, a.gamma, a.tau, a.target_update_every) == (
        2.5e-4,
        10000,
        0.99,
        1.0,
        500,
    )
    assert (a.batch_size, a.eps_start, a.eps_end, a.eps_decay_fraction) == (128, 1.0, 0.05, 0.5)
    assert (a.learning_starts, a.train_freq, a.loss) == (10000, 10, "mse")
    assert cfg.budget.frames == 500_000


def test_plugin_entry_points_register_builders(monkeypatch, tmp_path) -> None:
    """A third-party module listed under the `drlrun.plugins` group is imported and registers."""
    (tmp_path / "my_drlrun_plugin.py").write_text(
        "from drlrun.registry import register\n"
        "register('algo', 'plugin_algo')(lambda cfg, env, ctx: 'built')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="mine", value="my_drlrun_plugin", group="drlrun.plugins")
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    assert "plugin_algo" not in registry._TABLES["algo"]
    assert "plugin_algo" in registry.names("algo")  # names() loads the plugins
    assert registry.build("algo", "plugin_algo", None, None) == "built"
