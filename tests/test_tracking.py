"""Optional trackers (log.backend): wandb offline and mlflow's local store, only when installed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from drlrun.errors import DrlrunError
from drlrun.settings import validate
from tests.conftest import TINY, compose, run_cli


@pytest.mark.parametrize(
    ("value", "message"),
    [("[nope]", "unknown log.backend 'nope'"), ("[csv]", "use log.csv=true")],
)
def test_bad_backend_names_the_fix(value: str, message: str) -> None:
    with pytest.raises(DrlrunError, match=message):
        validate(compose(f"log.backend={value}"))


@pytest.mark.slow
def test_mlflow_and_wandb_receive_the_metrics_offline(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    args = [*TINY, "eval.every=512", "log.progress=false", "budget.frames=1024"]
    out = run_cli([*args, "log.backend=[mlflow,wandb]", "hydra.run.dir=run"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "run"
    with (run / "metrics.csv").open() as f:
        evals = {
            int(r["frames"]): float(r["eval_return_mean"])
            for r in csv.DictReader(f)
            if r["kind"] == "eval"
        }
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading the run's local store
    client = MlflowClient((run / "mlruns").resolve().as_uri())
    (mlrun,) = client.search_runs(client.get_experiment_by_name("drlrun").experiment_id)
    history = client.get_metric_history(mlrun.info.run_id, "eval/eval_return_mean")
    assert {m.step: m.value for m in history} == evals and len(evals) == 2
    assert (
        mlrun.data.params["algo.name"] == "dqn" and mlrun.data.tags["drlrun.status"] == "finished"
    )
    offline = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(offline) == 1 and offline[0].stat().st_size > 0
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
