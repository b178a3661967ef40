"""Sweeps: parallel jobs (joblib), failures that do not stop a sweep, resumed sweeps, reports."""

from __future__ import annotations

import csv
import json
import math
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from drlrun.sweep.stats import bootstrap_ci, iqm, std
from tests.conftest import TINY, run_cli

SWEEP = [*TINY, "eval.every=512", "log.progress=false", "budget.frames=1024"]


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """dqn and double_dqn x seeds 0, 1 (4 real jobs, 2 at a time) plus seed=-1, which fails."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    cwd = tmp_path_factory.mktemp("joblib")
    args = ["--multirun", *SWEEP, "algo=dqn,double_dqn", "seed=0,1,-1", "+book.eval_return_mean=20"]
    args += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweep.dir=sweep"]
    return cwd / "sweep", run_cli(args, cwd)


@pytest.mark.slow
@pytest.mark.ci
def test_failing_jobs_do_not_stop_the_sweep_and_are_recorded(joblib_sweep) -> None:
    sweep, out = joblib_sweep
    assert out.returncode == 1, out.stderr  # the sweep ran to its end; exit 1 flags the failures
    summaries = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/summary.json")}
    assert len(summaries) == 6
    failed = {k for k, s in summaries.items() if s["status"] == "failed"}
    assert failed == {"2", "5"}  # the seed=-1 jobs of each algorithm
    for name in failed:
        assert "seed must be >= 0" in summaries[name]["error"]
        assert "Traceback" in (sweep / name / "error.txt").read_text()
    assert all(
        s["status"] == "finished" and s["frames"] >= 1024
        for k, s in summaries.items()
        if k not in failed
    )
    assert "2 of 6 jobs failed" in out.stderr + out.stdout


@pytest.mark.slow
@pytest.mark.ci
def test_joblib_runs_jobs_in_parallel(joblib_sweep) -> None:
    """n_jobs=2: the jobs ran in two worker processes, not one after another in the launcher
    (job processes, not log timestamps: a loaded machine can run two 0.3 s jobs side by side
    without their logged spans overlapping)."""
    sweep, _ = joblib_sweep
    summaries = [json.loads(p.read_text()) for p in sweep.glob("*/summary.json")]
    pids = {s["compute"]["pid"] for s in summaries if "compute" in s}
    assert len(pids) >= 2, pids


def _expected(sweep: Path, algo: str) -> list[float]:
    values = []
    for path in sorted(sweep.glob("*/summary.json")):
        overrides = (path.parent / ".hydra" / "overrides.yaml").read_text()
        summary = json.loads(path.read_text())
        if f"algo={algo}\n" in overrides and summary["status"] == "finished":
            values.append(summary["eval_return_mean"])
    return values


@pytest.mark.slow
@pytest.mark.ci
def test_report_aggregates_the_jobs_numbers(joblib_sweep) -> None:
    sweep, _ = joblib_sweep
    out = subprocess.run(
        [sys.executable, "-m", "drlrun.report", str(sweep)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "2 groups by algo" in out.stdout and out.stdout.count("failed: ") == 2
    with (sweep / "report" / "report.csv").open() as f:
        rows = {r["group"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"algo=dqn", "algo=double_dqn"}
    for algo in ("dqn", "double_dqn"):
        row, values = rows[f"algo={algo}"], _expected(sweep, algo)
        assert len(values) == 2 and int(row["seeds"]) == 2 and int(row["failed"]) == 1
        assert float(row["mean"]) == pytest.approx(statistics.mean(values))
        assert float(row["std"]) == pytest.approx(statistics.stdev(values))
        assert float(row["iqm"]) == pytest.approx(statistics.mean(values))  # n=2: nothing cut
        assert min(values) <= float(row["ci95_low"]) <= float(row["ci95_high"]) <= max(values)
        assert float(row["frames"]) >= 1024 and float(row["sps"]) > 0
    md = (sweep / "report" / "report.md").read_text()
    assert "| algo=dqn | 2 |" in md and "seed=-1" in md and "seed must be >= 0" in md
    assert float(rows["algo=dqn"]["book"]) == 20.0  # the preset's reported number, beside the mean
    mean = statistics.mean(_expected(sweep, "dqn"))
    assert f"| algo=dqn | eval_return_mean | 20 | {mean:.4g} |" in md
    assert (sweep / "report" / "curves.png").stat().st_size > 5000


def test_statistics_known_values() -> None:
    assert iqm(np.arange(1, 9)) == 4.5  # mean of 3, 4, 5, 6
    assert iqm(np.array([100.0, 1, 2, 3, -50])) == 2.0  # n=5 cuts one from each end
    assert std(np.array([1.0, 3.0])) == pytest.approx(math.sqrt(2))
    assert math.isnan(std(np.array([1.0])))
    assert bootstrap_ci(np.array([7.0, 7.0, 7.0])) == (7.0, 7.0)
    low, high = bootstrap_ci(np.array([0.0, 10.0, 20.0, 30.0]))
    assert 0.0 < low < 15.0 < high < 30.0


@pytest.mark.slow
@pytest.mark.ci  # issue 9: CI runs sweep resume and the Ray launcher
def test_interrupted_sweep_resumes_and_skips_finished_jobs(tmp_path: Path) -> None:
    args = ["--multirun", *SWEEP, "budget.frames=4000", "seed=0,1", "hydra.sweep.dir=sweep"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "drlrun.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("sweep/0/checkpoints/ckpt_*.pt")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    first = json.loads((tmp_path / "sweep/0/summary.json").read_text())
    assert first["status"] == "interrupted" and first["frames"] < 4000
    assert not (tmp_path / "sweep/1").exists()  # the sweep stopped before job 1

    out = run_cli([*args, "resume=true"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "resumed from" in (tmp_path / "sweep/0/drlrun.log").read_text()
    for job in ("0", "1"):
        summary = json.loads((tmp_path / f"sweep/{job}/summary.json").read_text())
        assert summary["status"] == "finished" and summary["frames"] >= 4000
        with (tmp_path / f"sweep/{job}/metrics.csv").open() as f:
            frames = [int(r["frames"]) for r in csv.DictReader(f) if r["kind"] == "train"]
        assert frames == sorted(set(frames)) and frames[-1] >= 4000  # one continuous history

    before = (tmp_path / "sweep/0/summary.json").read_text()
    again = run_cli([*args, "resume=true"], tmp_path)
    assert again.returncode == 0
    assert (again.stderr + again.stdout).count("already finished its budget; skipped") == 2
    assert (tmp_path / "sweep/0/summary.json").read_text() == before


@pytest.mark.slow
@pytest.mark.ci
def test_drlrun_eval_on_a_multirun_dir_evaluates_every_job(joblib_sweep) -> None:
    from drlrun.evaluate import EvalArgs, evaluate_run

    sweep, _ = joblib_sweep
    out = subprocess.run(
        [sys.executable, "-m", "drlrun.evaluate", str(sweep), "episodes=2"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    with (sweep / "eval.csv").open() as f:
        rows = {Path(r["run_dir"]).name: r for r in csv.DictReader(f)}
    assert set(rows) == {"0", "1", "2", "3", "4", "5"}
    assert {k for k, r in rows.items() if r["skipped"]} == {"2", "5"}  # failed: no checkpoint
    single = evaluate_run(sweep / "3", EvalArgs(episodes=2))  # same checkpoint, same eval seed
    assert float(rows["3"]["eval_return_mean"]) == single["eval_return_mean"]
    assert int(rows["3"]["frames"]) == single["frames"] >= 1024
