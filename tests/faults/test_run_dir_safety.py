"""Run-dir safety under faults (issue 15, items 1-4, 8, 9): resume never leaves its search root
or adopts an older look-alike, a live run locks its dir, kills leave nothing that breaks or
outgrows a resume, and drlrun never changes a file it did not write."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drlrun import checkpoint
from drlrun.rundir import LOCK_NAME
from tests.conftest import TINY, run_cli
from tests.faults.conftest import assert_unchanged, snapshot

# CartPole DQN, about two seconds a run.
JOB = [*TINY, "budget.frames=1500", "seed=424242"]


def _popen(args: list[str], cwd: Path, script: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "drlrun.cli"]
    return subprocess.Popen(
        cmd if script else [*cmd, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def _has_rows(csv: Path, n: int = 1) -> bool:
    return csv.exists() and len(csv.read_text().splitlines()) > n


def test_resume_into_a_fixed_dir_never_searches_elsewhere_or_touches_user_files(
    tmp_path: Path, one_line_error
) -> None:
    """Issue item 1: an absolute hydra.run.dir is its own search root."""
    a, b, other_cwd = tmp_path / "a" / "run1", tmp_path / "b", tmp_path / "elsewhere"
    assert run_cli([*JOB, "checkpoint.every=512", f"hydra.run.dir={a}"], tmp_path).returncode == 0
    b.mkdir()
    (b / "keep.txt").write_text("mine\n")
    other_cwd.mkdir()
    before = snapshot(tmp_path)
    out = run_cli([*JOB, "budget.frames=3000", "resume=true", f"hydra.run.dir={b}"], other_cwd)
    one_line_error(out, f"no earlier run of this command with a checkpoint in {b}")
    assert_unchanged(before, tmp_path)
    assert sorted(p.name for p in b.iterdir()) == ["keep.txt"]  # nothing was created there


def test_resume_with_the_cwd_as_run_dir_is_one_line(tmp_path: Path, one_line_error) -> None:
    (tmp_path / "notes.txt").write_text("x")
    before = snapshot(tmp_path)
    out = run_cli([*JOB, "hydra.run.dir=.", "resume=true"], tmp_path)
    one_line_error(out, "no earlier run of this command with a checkpoint in")
    assert_unchanged(before, tmp_path)


def test_a_fresh_run_refuses_a_dir_that_holds_a_run(tmp_path: Path, one_line_error) -> None:
    assert run_cli([*JOB, "hydra.run.dir=run"], tmp_path).returncode == 0
    before = snapshot(tmp_path)
    out = run_cli([*JOB, "seed=1", "hydra.run.dir=run"], tmp_path)
    one_line_error(out, "already holds a run")
    assert_unchanged(before, tmp_path)


def test_a_resumed_run_continues_in_its_dir_and_keeps_its_hydra_record(tmp_path: Path) -> None:
    """Default timestamped dirs: the resumed invocation makes no dir of its own, and the run's
    own .hydra/ stays as it was (this invocation's record goes to .hydra/resumed/)."""
    assert run_cli([*JOB, "checkpoint.every=512"], tmp_path).returncode == 0
    (run,) = tmp_path.glob("outputs/*/*")
    record = snapshot(run / ".hydra")
    time.sleep(1.1)  # the next invocation's timestamp differs
    out = run_cli([*JOB, "checkpoint.every=512", "budget.frames=2500", "resume=true"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.glob("outputs/*/*")) == [run]
    assert_unchanged(record, run / ".hydra")
    assert len(list((run / ".hydra" / "resumed").glob("*/overrides.yaml"))) == 1
    assert "resumed from" in (run / "drlrun.log").read_text()


@pytest.mark.parametrize("basic_sweeper", [True], ids=["basic"])
def test_a_resumed_sweep_with_a_fixed_dir_never_adopts_another_sweeps_jobs(
    tmp_path: Path, basic_sweeper: bool
) -> None:
    """Issue item 2: sweep A finished; `resume=true hydra.sweep.dir=B` starts B's jobs afresh
    in B (no pointer out of B) and leaves A byte-identical."""
    sweep = ["--multirun", *JOB, "seed=0,1", "eval.episodes=1"]
    assert run_cli([*sweep, "hydra.sweep.dir=A"], tmp_path).returncode == 0
    before = snapshot(tmp_path / "A")
    out = run_cli([*sweep, "resume=true", "hydra.sweep.dir=B"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert_unchanged(before, tmp_path / "A")
    assert not list((tmp_path / "B").rglob("continued_in.txt"))
    assert len(list((tmp_path / "B").glob("*/checkpoints/ckpt_*.pt"))) >= 2
    assert "resumed from" not in (tmp_path / "B" / "0" / "drlrun.log").read_text()


def test_a_fresh_basic_sweep_refuses_a_sweep_dir_holding_runs(
    tmp_path: Path, one_line_error
) -> None:
    sweep = ["--multirun", *JOB, "seed=0,1", "eval.episodes=1", "hydra.sweep.dir=S"]
    assert run_cli(sweep, tmp_path).returncode == 0
    before = snapshot(tmp_path / "S")
    one_line_error(run_cli(sweep, tmp_path), "already holds 2 run(s) of an earlier sweep")
    assert_unchanged(before, tmp_path / "S")


def test_kill_before_the_first_checkpoint_restarts_that_run_not_an_older_look_alike(
    tmp_path: Path,
) -> None:
    """Issue item 3: the newest run of the command has no checkpoint: it starts afresh in its own
    dir, and the older run of the same command (with checkpoints) stays byte-identical."""
    pattern = "hydra.run.dir=outputs/${now:%H-%M-%S-%f}"
    job = [*JOB, "checkpoint.every=100000"]  # only the final checkpoint
    assert run_cli([*job, pattern], tmp_path).returncode == 0
    (older,) = tmp_path.glob("outputs/*")
    before = snapshot(older)
    proc = _popen([*job, "budget.frames=400000", pattern], tmp_path)
    _wait_for(
        lambda: any(_has_rows(p / "metrics.csv") for p in tmp_path.glob("outputs/*") if p != older)
    )
    proc.kill()
    proc.communicate(timeout=60)
    (killed,) = [p for p in tmp_path.glob("outputs/*") if p != older]
    assert checkpoint.latest(killed / "checkpoints") is None
    out = run_cli([*job, "resume=true", pattern], tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"the newest run of this command, {killed}, stopped before its first" in out.stdout
    assert_unchanged(before, older)
    assert sorted(tmp_path.glob("outputs/*")) == sorted([older, killed])  # no third dir
    reference = run_cli([*job, "hydra.run.dir=ref"], tmp_path)
    assert reference.returncode == 0
    assert (killed / "metrics.csv").read_text() == (tmp_path / "ref" / "metrics.csv").read_text()


def test_a_live_run_locks_its_dir_and_a_killed_ones_lock_is_taken_over(
    tmp_path: Path, one_line_error
) -> None:
    """Issue item 4: a second run into a live run's dir exits 2 naming the holder; after a
    SIGKILL the stale lock is taken over by resume=true."""
    first = _popen(
        [*JOB, "checkpoint.every=512", "budget.frames=400000", "hydra.run.dir=run"], tmp_path
    )
    run = tmp_path / "run"
    _wait_for(lambda: checkpoint.latest(run / "checkpoints") is not None)
    config = (run / "config.yaml").read_bytes()
    record = snapshot(run / ".hydra")
    second = run_cli([*JOB, "seed=7", "hydra.run.dir=run"], tmp_path)
    line = one_line_error(second, "is in use by another drlrun run")
    assert f"host {socket.gethostname()}, pid {first.pid}," in line
    again = run_cli([*JOB, "budget.frames=400000", "resume=true", "hydra.run.dir=run"], tmp_path)
    one_line_error(again, f"pid {first.pid}")
    assert (run / "config.yaml").read_bytes() == config
    assert_unchanged(record, run / ".hydra")
    first.kill()
    first.communicate(timeout=60)
    assert str(first.pid) in (run / LOCK_NAME).read_text()  # the kill left its name behind
    out = run_cli([*JOB, "budget.frames=3000", "resume=true", "hydra.run.dir=run"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "took over the lock" in out.stdout + out.stderr
    assert (run / LOCK_NAME).read_text() == ""  # released on a clean exit


# Runs drlrun with torch.save patched to die by SIGKILL half-way through the Nth checkpoint.
KILL_IN_SAVE = textwrap.dedent(
    """
    import os, runpy, signal, sys
    import drlrun.checkpoint as ck
    real, calls = ck.torch.save, [0]
    def dying_save(obj, f, *a, **k):
        calls[0] += 1
        if calls[0] == int(os.environ["KILL_AT_SAVE"]):
            f.write(b"x" * 4096); f.flush(); os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return real(obj, f, *a, **k)
    ck.torch.save = dying_save
    sys.argv = ["drlrun", *sys.argv[1:]]
    runpy.run_module("drlrun.cli", run_name="__main__")
    """
)


def test_a_kill_during_a_checkpoint_write_leaves_a_temp_file_that_resume_removes(
    tmp_path: Path,
) -> None:
    """Issue item 8: the half-written temp file is deleted once the lock is taken; the resumed
    run ends with the uninterrupted run's metrics."""
    args = [*JOB, "checkpoint.every=512", "budget.frames=3000"]
    env = {**os.environ, "KILL_AT_SAVE": "3", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_IN_SAVE, *args, "hydra.run.dir=run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    temps = list((tmp_path / "run" / "checkpoints").glob(".ckpt_*.tmp"))
    assert len(temps) == 1 and temps[0].stat().st_size == 4096
    out = run_cli([*args, "resume=true", "hydra.run.dir=run"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert not list((tmp_path / "run").rglob("*.tmp"))
    assert run_cli([*args, "hydra.run.dir=ref"], tmp_path).returncode == 0
    assert (tmp_path / "run" / "metrics.csv").read_text() == (
        tmp_path / "ref" / "metrics.csv"
    ).read_text()


def test_metrics_rewrites_are_atomic_and_a_cut_row_is_dropped_on_resume(
    tmp_path: Path, monkeypatch
) -> None:
    """Issue item 9: a rewrite that dies before its rename leaves the old file whole; a row cut
    by a kill mid-append is not read back."""
    from drlrun import rundir
    from drlrun.logger import CsvSink

    path = tmp_path / "metrics.csv"
    sink = CsvSink(path, None)
    sink.write({"frames": 100, "kind": "train", "loss": 1.0})
    sink.write({"frames": 200, "kind": "train", "loss": 0.5})
    whole = path.read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for a kill between the temp write and the rename

    monkeypatch.setattr(rundir.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        sink.write({"frames": 300, "kind": "train", "loss": 0.2, "q_mean": 3.0})  # new column
    monkeypatch.undo()
    assert path.read_text() == whole and not list(tmp_path.glob(".*.tmp"))
    with path.open("a") as f:
        f.write("300,train,0.2")  # no newline: the kill came mid-row
    resumed = CsvSink(path, resume_frames=10_000)
    assert [r["frames"] for r in resumed.rows] == ["100", "200"]
    assert path.read_text() == whole
