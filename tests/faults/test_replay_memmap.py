"""Memory-mapped replay (drlrun.replay_store): killed anywhere, a run resumes to the metrics of
an uninterrupted one; a checkpoint the memmaps have moved past is refused, changing nothing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drlrun import checkpoint
from drlrun.buffers.replay import ReplayBuffer
from drlrun.errors import DrlrunError
from drlrun.replay_store import ID_CHARS, JOURNAL, MANIFEST, ReplayStore, ring_spans
from tests.conftest import TINY, run_cli, run_config
from tests.faults.conftest import assert_unchanged, snapshot

KILL_AT = Path(__file__).with_name("kill_at.py")
# a 700-row ring, a commit every 256 frames: commits cross the ring's end, the ring wraps 4 times
MEMMAP = [
    *(a for a in TINY if not a.startswith("checkpoint.every")),
    "checkpoint.every=256",
    "checkpoint.keep=5",
    "algo.buffer_size=700",
    "algo.replay_in_checkpoint=memmap",
    "budget.frames=3000",
    "log.progress=false",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted memmap run (its checkpoints also serve the refusal test)."""
    cwd = tmp_path_factory.mktemp("memmap_ref")
    out = run_cli([*MEMMAP, "hydra.run.dir=ref"], cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return cwd / "ref"


def kill_then_resume(cwd: Path, point: str, n: int) -> Path:
    """Run MEMMAP under kill_at.py (SIGKILL at `point` n), check it died, return the run dir."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    args = [sys.executable, str(KILL_AT), point, str(n), *MEMMAP, "hydra.run.dir=run"]
    killed = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-3000:]
    return cwd / "run"


def resume_and_compare(cwd: Path, run: Path, reference: Path) -> None:
    out = run_cli([*MEMMAP, "hydra.run.dir=run", "resume=true"], cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (run / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()


def test_killed_between_checkpoints_resumes_to_identical_metrics(tmp_path, reference) -> None:
    run = kill_then_resume(tmp_path, "frame", 1700)  # last checkpoint at 1536
    newest = checkpoint.load(checkpoint.latest(run / "checkpoints"))
    assert "frames" not in newest["algo"]["replay"]  # the ring is in the memmaps, not here
    assert (run / "replay" / "frames.npy").exists()
    resume_and_compare(tmp_path, run, reference)


@pytest.mark.parametrize(
    ("point", "state"),
    [("journal", "applied"), ("apply", "applying")],
    ids=["after-journal-before-checkpoint", "halfway-through-memmap-update"],
)
def test_killed_during_the_memmap_update_resumes_to_identical_metrics(
    tmp_path, reference, point, state
) -> None:
    """The 6th commit (frames 1280..1536, rows 580..699 then 0..135) is cut short: an
    uncommitted journal is dropped, a committed one rolled forward over the half-copied rows."""
    run = kill_then_resume(tmp_path, point, 6)
    assert (run / "replay" / JOURNAL).exists()
    assert json.loads((run / "replay" / MANIFEST).read_text())["state"] == state
    resume_and_compare(tmp_path, run, reference)


def test_older_checkpoint_after_the_ring_wrapped_is_refused(cli, reference, one_line_error):
    oldest = checkpoint.list_checkpoints(reference / "checkpoints")[0]  # 960 rows ago, ring 700
    before = snapshot(reference)
    out = cli(*MEMMAP, "budget.frames=4000", "hydra.run.dir=other", f"resume={oldest}")
    one_line_error(out, "resumes only from its newest checkpoint")
    assert "overwritten" in out.stderr
    assert_unchanged(before, reference, appended=(reference / "drlrun.log",))
    new = snapshot(reference).keys() - before.keys()  # only the log and Hydra's invocation record
    assert all(p == reference / "drlrun.log" or ".hydra/resumed/" in str(p) for p in new), new


# --- in-process runs ---------------------------------------------------------------------------
SMALL = [a for a in MEMMAP if not a.startswith(("algo.replay_in", "budget."))]


def test_auto_above_the_limit_uses_memmap_and_prioritized_resumes_exactly(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("drlrun.algos.q.learner.REPLAY_IN_CHECKPOINT_MAX_BYTES", 0)
    args = [*SMALL, "replay=prioritized", "algo.per_beta_frames=2000"]  # not the budget
    run_config([*args, "budget.frames=2000"], tmp_path / "full")
    run_config([*args, "budget.frames=1000"], tmp_path / "part")
    part = tmp_path / "part"
    assert (part / "replay" / "frames.npy").exists()
    resume = checkpoint.latest(part / "checkpoints")
    run_config([*args, "budget.frames=2000"], part, resume_from=resume)
    full = (tmp_path / "full" / "metrics.csv").read_text()
    assert (part / "metrics.csv").read_text() == full


def resume_warnings(args: list[str], run_dir: Path, caplog) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="drlrun"):
        resume = checkpoint.latest(run_dir / "checkpoints")
        run_config([*args, "budget.frames=900"], run_dir, resume_from=resume)
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_never_warns_once_at_resume(tmp_path, caplog) -> None:
    args = [*SMALL, "algo.replay_in_checkpoint=never"]
    run_config([*args, "budget.frames=600"], tmp_path)
    assert not (tmp_path / "replay").exists()
    warnings = resume_warnings(args, tmp_path, caplog)
    assert len(warnings) == 1 and "learning curve will differ" in warnings[0], warnings


def test_checkpoint_from_before_memmap_replays_resumes_empty_with_the_warning(
    tmp_path, caplog
) -> None:
    """An auto run over 2 GiB used to checkpoint no replay: it still resumes, and says so."""
    args = [*SMALL, "algo.replay_in_checkpoint=memmap"]
    run_config([*args, "budget.frames=600"], tmp_path)
    newest = checkpoint.latest(tmp_path / "checkpoints")
    state = checkpoint.load(newest)
    del state["replay_store"]
    state["algo"]["replay"] = None
    checkpoint.save(state, tmp_path / "checkpoints", state["algo"]["frames"], keep=5)  # replaces it
    warnings = resume_warnings(args, tmp_path, caplog)
    assert len(warnings) == 1 and "were left out" in warnings[0], warnings


def test_corrupt_newest_checkpoint_advice_names_the_memmap(tmp_path) -> None:
    args = [*SMALL, "algo.replay_in_checkpoint=memmap"]
    run_config([*args, "budget.frames=600"], tmp_path)
    newest = checkpoint.latest(tmp_path / "checkpoints")
    newest.write_bytes(b"not a checkpoint")
    with pytest.raises(DrlrunError, match="works for this run only if it stopped before"):
        run_config([*args, "budget.frames=900"], tmp_path, resume_from=newest)


def test_sequence_replay_refuses_memmap_in_one_line(tmp_path) -> None:
    with pytest.raises(DrlrunError, match="sequence replay keeps whole episodes"):
        run_config(["net=lstm", "algo.replay_in_checkpoint=memmap", "budget.frames=64"], tmp_path)


# --- the store on its own -------------------------------------------------------------------
ROWS, ENVS = 5, 2


def ring() -> ReplayBuffer:
    return ReplayBuffer(ROWS * ENVS, ENVS, (3,), np.dtype(np.uint8))


def add(replay: ReplayBuffer, steps: int) -> None:
    for _ in range(steps):
        t = replay.written
        obs = np.full((ENVS, 3), t % 251, dtype=np.uint8)
        flags = np.array([t % 3 == 0, False])
        replay.add(obs, np.array([t, -t]), np.array([t, t], np.float32), flags, ~flags, {})


class Saves:
    """A stand-in for checkpoint.save: keeps each commit record and the journal size it saw."""

    def __init__(self, folder: Path):
        self.folder, self.records, self.journal_sizes = folder, [], []

    def __call__(self, state: dict) -> Path:
        self.records.append(state["replay_store"])
        self.journal_sizes.append((self.folder / JOURNAL).stat().st_size - ID_CHARS)
        return self.folder / f"ckpt_{len(self.records)}"


def row_bytes(replay: ReplayBuffer) -> int:
    return sum(a[0].nbytes for a in replay.ring_arrays().values())


def restored(folder: Path, record: dict) -> ReplayBuffer:
    fresh = ring()
    ReplayStore(folder, fresh).restore(folder / "ckpt", record)
    return fresh


def assert_same_rings(a: ReplayBuffer, b: ReplayBuffer) -> None:
    for name, array in a.ring_arrays().items():
        np.testing.assert_array_equal(array, b.ring_arrays()[name], err_msg=name)


def test_ring_spans_wrap() -> None:
    assert ring_spans(0, 3, 5) == [(0, 3)]
    assert ring_spans(3, 4, 5) == [(3, 5), (0, 2)]
    assert ring_spans(10, 5, 5) == [(0, 5)]
    assert ring_spans(7, 0, 5) == []


def test_store_writes_only_rows_added_since_the_previous_commit(tmp_path) -> None:
    replay, saves = ring(), Saves(tmp_path)
    store = ReplayStore(tmp_path, replay)
    for steps in (3, 4, 0, 12):  # then: across the ring's end, nothing, more than the ring
        add(replay, steps)
        store.checkpoint({}, saves)
        assert_same_rings(replay, restored(tmp_path, saves.records[-1]))
    assert saves.journal_sizes == [n * row_bytes(replay) for n in (3, 4, 0, ROWS)]
    assert not (tmp_path / JOURNAL).exists()  # deleted once applied


def test_store_refuses_an_older_commit_and_changes_nothing(tmp_path) -> None:
    replay, saves = ring(), Saves(tmp_path)
    store = ReplayStore(tmp_path, replay)
    for _ in range(2):
        add(replay, 4)
        store.checkpoint({}, saves)
    before = snapshot(tmp_path)
    with pytest.raises(DrlrunError, match="resumes only from its newest checkpoint"):
        restored(tmp_path, saves.records[0])
    assert snapshot(tmp_path) == before


def test_store_rolls_a_committed_journal_forward_over_a_half_copied_memmap(
    tmp_path, monkeypatch
) -> None:
    replay, saves = ring(), Saves(tmp_path)
    store = ReplayStore(tmp_path, replay)
    add(replay, 3)
    store.checkpoint({}, saves)

    def killed(maps, chunks) -> None:  # the first chunk lands, the rest never does
        name, a, b, rows = next(chunks)
        maps[name][a:b] = rows
        raise KeyboardInterrupt

    add(replay, 4)  # across the ring's end
    monkeypatch.setattr(ReplayStore, "_copy_rows", staticmethod(killed))
    with pytest.raises(KeyboardInterrupt):
        store.checkpoint({}, saves)  # the checkpoint was written: the commit holds
    monkeypatch.undo()
    assert json.loads((tmp_path / MANIFEST).read_text())["state"] == "applying"
    with pytest.raises(DrlrunError):  # the memmaps are half way: the older commit is gone
        restored(tmp_path, saves.records[0])
    assert_same_rings(replay, restored(tmp_path, saves.records[-1]))
    assert json.loads((tmp_path / MANIFEST).read_text())["state"] == "applied"


def test_store_ignores_a_journal_no_checkpoint_names(tmp_path) -> None:
    replay, saves = ring(), Saves(tmp_path)
    store = ReplayStore(tmp_path, replay)
    add(replay, 4)
    store.checkpoint({}, saves)
    at_commit = {name: a.copy() for name, a in replay.ring_arrays().items()}

    def killed(state: dict) -> Path:  # after the journal, before the checkpoint is written
        raise KeyboardInterrupt

    add(replay, 3)
    with pytest.raises(KeyboardInterrupt):
        store.checkpoint({}, killed)
    assert (tmp_path / JOURNAL).exists()
    back = restored(tmp_path, saves.records[-1])
    for name, array in back.ring_arrays().items():
        np.testing.assert_array_equal(array, at_commit[name], err_msg=name)
    assert not (tmp_path / JOURNAL).exists()
