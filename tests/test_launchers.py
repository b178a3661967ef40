"""Launchers and the Optuna sweeper: shipped configs compose, Ray runs jobs on a local instance,
Optuna tunes with pruning on intermediate evaluations and resumes its SQLite study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY, run_cli

JOB = [*TINY, "log.progress=false", "eval.every=512"]


def _compose_hydra(*overrides: str):
    from hydra import compose, initialize_config_module

    with initialize_config_module("drlrun.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_slurm_launcher_config_composes_and_instantiates() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext

    cfg = _compose_hydra("hydra/launcher=slurm", "hydra.launcher.partition=gpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task) == ("gpu", 240, 2)
    assert launcher.mem_gb == 16 and launcher.submitit_folder.endswith(".submitit/%j")
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)
    plugin = Plugins.instance().instantiate_launcher(
        config=cfg,
        hydra_context=HydraContext(config_loader=None, callbacks=None),  # type: ignore[arg-type]
        task_function=lambda c: None,
    )
    assert type(plugin).__name__ == "SlurmLauncher" and plugin.params["partition"] == "gpu"


def test_ray_cluster_config_composes() -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    cfg = _compose_hydra("hydra/launcher=ray_cluster")
    assert cfg.hydra.launcher._target_.endswith("ray_launcher.RayLauncher")
    assert cfg.hydra.launcher.ray.init.address == "auto"
    assert cfg.hydra.launcher.ray.remote.num_cpus == 1


@pytest.mark.slow
@pytest.mark.ci  # issue 9: CI runs sweep resume and the Ray launcher
def test_ray_launcher_runs_jobs_on_a_local_ray_instance(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    args = ["--multirun", *JOB, "budget.frames=600", "seed=0,1", "hydra/launcher=ray"]
    args += [
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
    ]
    out = run_cli([*args, "hydra.sweep.dir=sweep"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Ray Launcher is launching 2 jobs" in out.stderr + out.stdout
    summaries = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("sweep/*/summary.json"))]
    assert [s["status"] for s in summaries] == ["finished", "finished"]
    assert all(s["frames"] >= 600 for s in summaries)


def _trials(storage: str, study: str) -> list:
    import optuna

    return optuna.load_study(study_name=study, storage=storage).trials


@pytest.mark.slow
@pytest.mark.ci
def test_optuna_sweeper_prunes_on_eval_returns_and_resumes_its_study(tmp_path: Path) -> None:
    """eval.epsilon=1 (random actions) scores ~20 on CartPole, the greedy untrained policy ~9:
    with the sampler's seed 0 the trials are epsilon 1, 0, 1, so the median pruner must stop
    trial 1 at its first evaluation, below trial 0's return at the same frame."""
    optuna = pytest.importorskip("optuna")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["--multirun", *JOB, "budget.frames=1024", "eval.episodes=3"]
    args += ["hydra/sweeper=optuna_pruning", "eval.epsilon=choice(0.0,1.0)"]
    args += ["hydra.sweeper.sampler.seed=0", "hydra.sweeper.pruner.n_startup_trials=1"]
    args += [f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=t"]
    args += ["hydra.sweep.dir=sweep"]
    out = run_cli([*args, "hydra.sweeper.n_trials=3"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    trials = _trials(storage, "t")
    TS = optuna.trial.TrialState
    assert [t.params["eval.epsilon"] for t in trials] == [1.0, 0.0, 1.0]
    assert [t.state for t in trials] == [TS.COMPLETE, TS.PRUNED, TS.COMPLETE]
    pruned = json.loads((tmp_path / "sweep/1/summary.json").read_text())
    assert pruned["status"] == "pruned" and pruned["frames"] < 1024
    step, value = max(trials[1].intermediate_values.items())
    assert step == pruned["frames"] and value == pruned["eval_return_mean"]
    assert value < trials[0].intermediate_values[step]
    for number in (0, 2):  # the value told to Optuna is the job's final eval return
        summary = json.loads((tmp_path / f"sweep/{number}/summary.json").read_text())
        assert trials[number].value == summary["eval_return_mean"] and summary["frames"] >= 1024
    results = yaml.safe_load((tmp_path / "sweep/optimization_results.yaml").read_text())
    assert results["states"]["PRUNED"] == 1 and results["best_value"] == max(
        trials[0].value, trials[2].value
    )
    again = run_cli([*args, "hydra.sweeper.n_trials=4"], tmp_path)  # the stored study goes on
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_trials(storage, "t")) == 4 and (tmp_path / "sweep/3/summary.json").exists()


def test_plain_optuna_sweeper_gets_a_float_from_each_job() -> None:
    from drlrun.sweep.result import JobResult

    finished = JobResult({"status": "finished", "eval_return_mean": 12.5})
    assert float(finished) == 12.5 and finished.summary["status"] == "finished"
    import math
    import pickle

    failed = pickle.loads(pickle.dumps(JobResult({"status": "failed", "error": "x"})))
    assert math.isnan(failed) and failed.summary["error"] == "x"
