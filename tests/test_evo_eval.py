"""GA and ES through the CLI: a tiny run writes fitness.png (the `fitness` probe, also logged to
TensorBoard), and drlrun-eval scores its checkpoint with the common evaluate signature."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drlrun.algos.base import Algorithm
from drlrun.algos.evolution.es import ES
from drlrun.algos.evolution.ga import GA

RUNS = {
    "ga_cartpole": ["algo=ga", "env=cartpole", "algo.population=10"],
    "es_cartpole": ["algo=es", "env=cartpole", "algo.population=10"],
    "ga_string": ["algo=ga", "env=string_target", "algo.population=20"],
}


def test_evaluate_takes_the_common_signature():
    common = inspect.signature(Algorithm.evaluate)
    for cls in (GA, ES):
        assert inspect.signature(cls.evaluate) == common


@pytest.mark.parametrize("name", list(RUNS))
def test_cli_run_then_drlrun_eval(name: str, tmp_path: Path):
    run_dir = tmp_path / name
    train = [
        *RUNS[name],
        "seed=1",
        "budget.frames=null",
        "budget.iterations=2",
        "eval.episodes=2",
        "log.every=1",
        "log.progress=false",
        f"hydra.run.dir={run_dir}",
    ]
    out = subprocess.run(
        [sys.executable, "-m", "drlrun.cli", *train], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert (run_dir / "fitness.png").stat().st_size > 1000
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    assert "fitness" in events.Tags()["images"]  # the probe's figure went through the logger
    out = subprocess.run(
        [sys.executable, "-m", "drlrun.evaluate", str(run_dir), "episodes=2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout[out.stdout.index("{") :])
    assert result["eval_episodes"] == (1 if name == "ga_string" else 2)
    line = out.stdout.splitlines()[0]
    assert ("of the best string" in line) == (name == "ga_string"), line
