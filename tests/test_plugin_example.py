"""The worked plugin package under examples/: installed like a user would, it adds `algo=cem`
(builder via the drlrun.plugins entry point, configs via a Hydra search-path plugin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "drlrun-plugin-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """pip-install the example (no deps, no build isolation: offline) into a temp target."""
    target = tmp_path_factory.mktemp("plugin_site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    out = subprocess.run(
        [*cmd, "--target", str(target), str(EXAMPLE)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert (target / "hydra_plugins" / "drlrun_plugin_example" / "__init__.py").exists()
    return target


@pytest.fixture
def with_plugin(installed, monkeypatch) -> None:
    path = os.pathsep.join(p for p in (str(installed), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PYTHONPATH", path)


def test_plugin_algorithm_learns_through_the_drlrun_command(with_plugin, tmp_path) -> None:
    out = run_cli(
        ["algo=cem", "budget.frames=15000", "eval.every=0", "log.tensorboard=false"]
        + ["log.progress=false", "hydra.run.dir=run"],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # a random CartPole policy scores ~22; CEM reaches 199-500 by 15k frames on seeds 0-3
    assert summary["status"] == "finished" and summary["eval_return_mean"] > 100
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "elite_return_mean" in header


def test_plugin_configs_are_on_the_search_path(with_plugin, tmp_path) -> None:
    out = run_cli(["+experiment=cem_cartpole", "--cfg", "job"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "name: cem" in out.stdout and "population: 16" in out.stdout
    bad = run_cli(["algo=cem", "algo.population=1", "hydra.run.dir=run"], tmp_path)
    assert bad.returncode == 2 and "algo.population must be >= 2" in bad.stderr


def test_without_the_plugin_algo_cem_is_unknown(tmp_path) -> None:
    out = run_cli(["algo=cem", "hydra.run.dir=run"], tmp_path)
    assert out.returncode == 2 and "unknown algo 'cem'" in out.stderr


def test_plugin_loss_and_probe_join_the_q_learner(with_plugin, tmp_path) -> None:
    """A loss and a probe registered from outside drlrun: DQN with the soft target learns
    CartPole, and the probe's figure is written and logged."""
    out = run_cli(
        ["algo=dqn", "algo.objective=soft", "+algo.soft_tau=0.05", "log.probes=[q_values]",
         "budget.frames=15000", "eval.every=0", "log.progress=false", "hydra.run.dir=run"],
        tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    # random play scores ~22; seeds 0, 1, 2 reached eval returns 500, 459, 296 at 15k frames
    assert summary["status"] == "finished" and summary["eval_return_mean"] > 100
    assert (run / "plots" / "q_values.png").stat().st_size > 0
    bad = run_cli(
        ["algo=dqn", "algo.objective=soft", "+algo.soft_tau=0", "hydra.run.dir=b"], tmp_path
    )
    assert bad.returncode == 2 and "soft_tau must be > 0" in bad.stderr
