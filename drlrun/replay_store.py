"""The replay store: a large replay ring kept beside the checkpoints as memory-mapped .npy files.

`<run_dir>/replay/` holds one `<array>.npy` per ring array, `journal.bin` and `manifest.json`.
At each checkpoint only the rows added since the previous one are written (a contiguous range of
the ring's clock, modulo its rows), in three steps whose order makes any kill recoverable:

1. the rows go to `journal.bin` (prefixed by a fresh commit id) and are fsynced;
2. the checkpoint is written (atomically) with the commit's record: this is the commit point;
3. the manifest says "applying <id>", the rows are copied into the memmaps and flushed, then
   the manifest says "applied <id>" and the journal is deleted.

On resume the memmaps must hold the loaded checkpoint's commit: applied, or rolled forward from
its journal (a kill in step 3, or between 2 and 3). A journal the checkpoint does not name was
never committed and is ignored. Any other state (an older checkpoint, once newer rows reached the
memmaps) is refused: those rows are gone. The runner owns this I/O; the algorithm only exposes
its replay (`Algorithm.external_replay`) and leaves the ring arrays out of its state_dict.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from drlrun.checkpoint import atomic_write, fsync_dir
from drlrun.errors import DrlrunError

STORE_DIR = "replay"  # under the run dir
JOURNAL = "journal.bin"
MANIFEST = "manifest.json"
ID_CHARS = 32  # uuid4 hex: the journal's first bytes, so a journal is never mistaken for another
CHUNK_BYTES = 64 * 1024**2  # rows copied per step when rolling a journal forward


class RingReplay(Protocol):
    """What the store needs from a replay: its ring arrays and the clock of rows added."""

    rows: int
    written: int

    def ring_arrays(self) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Commit:
    """One checkpoint's replay commit: ring rows of clock ticks [written - count, written)."""

    commit_id: str
    parent_id: str | None  # the commit the memmaps held before this one (None: first commit)
    generation: int  # 1, 2, ... along the run (for people reading the error messages)
    written: int
    count: int

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Commit:
        return cls(**record)


@dataclass(frozen=True)
class Manifest:
    """The commit the memmaps hold, or are being brought to (`state` "applying")."""

    commit_id: str
    generation: int
    written: int
    state: Literal["applying", "applied"]


Chunk = tuple[str, int, int, np.ndarray]  # (array name, first row, end row, rows)


def ring_spans(first_tick: int, count: int, rows: int) -> list[tuple[int, int]]:
    """Ring row ranges [a, b) holding clock ticks first_tick .. first_tick + count - 1."""
    if count <= 0:
        return []
    start = first_tick % rows
    end = start + count
    return [(start, min(end, rows))] + ([(0, end - rows)] if end > rows else [])


class ReplayStore:
    """Keeps `replay`'s ring arrays in `folder` in step with the checkpoints (module docstring)."""

    def __init__(self, folder: Path, replay: RingReplay):
        self.folder, self.replay = folder, replay
        self.last: Commit | None = None  # the commit the memmaps hold, as this process knows it
        self._maps: dict[str, np.memmap] | None = None

    @property
    def journal(self) -> Path:
        return self.folder / JOURNAL

    # --- saving -------------------------------------------------------------------------------
    def checkpoint(self, state: dict[str, Any], save: Callable[[dict[str, Any]], Path]) -> Path:
        """Journal the new rows, `save(state + commit record)` (the commit point), then apply."""
        commit = self._next_commit()
        self._write_journal(commit)
        path = save({**state, "replay_store": commit.record()})
        self._apply(commit, self._live_chunks(commit))
        return path

    def _next_commit(self) -> Commit:
        last, written = self.last, self.replay.written
        since = written - (last.written if last is not None else 0)
        return Commit(
            commit_id=uuid.uuid4().hex,
            parent_id=last.commit_id if last is not None else None,
            generation=last.generation + 1 if last is not None else 1,
            written=written,
            # the first commit writes every row ever added: the memmaps start as zeros
            count=min(since, self.replay.rows),
        )

    def _live_chunks(self, commit: Commit) -> Iterator[Chunk]:
        spans = ring_spans(commit.written - commit.count, commit.count, self.replay.rows)
        for name, array in sorted(self.replay.ring_arrays().items()):
            for a, b in spans:
                yield name, a, b, array[a:b]

    def _journal_bytes(self, commit: Commit) -> int:
        row_bytes = sum(a[0].nbytes for a in self.replay.ring_arrays().values())
        return ID_CHARS + commit.count * row_bytes

    def _write_journal(self, commit: Commit) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "wb") as f:
            f.write(commit.commit_id.encode("ascii"))
            for _, _, _, rows in self._live_chunks(commit):
                f.write(np.ascontiguousarray(rows).data)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(self.folder)

    def _apply(self, commit: Commit, chunks: Iterator[Chunk]) -> None:
        """Bring the memmaps to `commit` (whose journal is durable) from `chunks` of its rows."""
        fresh = commit.parent_id is None
        if not fresh:
            self._open(fresh=False)  # check the files before the manifest changes
        self._write_manifest(commit, "applying")  # before any memmap byte changes
        maps = self._open(fresh)
        self._copy_rows(maps, chunks)
        for name, m in maps.items():
            m.flush()
            _fsync_file(self.folder / f"{name}.npy")
        self._write_manifest(commit, "applied")
        self.journal.unlink(missing_ok=True)
        self.last = commit

    @staticmethod
    def _copy_rows(maps: dict[str, np.memmap], chunks: Iterator[Chunk]) -> None:
        for name, a, b, rows in chunks:
            maps[name][a:b] = rows

    def _open(self, fresh: bool) -> dict[str, np.memmap]:
        """The memmaps, created as zeros for a first commit, else checked against the ring."""
        if fresh or self._maps is None:
            self._maps = {}
            for name, live in self.replay.ring_arrays().items():
                path = self.folder / f"{name}.npy"
                if fresh:
                    m = np.lib.format.open_memmap(path, "w+", live.dtype, live.shape)
                else:
                    m = self._open_existing(path, live)
                self._maps[name] = m
            if fresh:
                fsync_dir(self.folder)
        return self._maps

    @staticmethod
    def _open_existing(path: Path, live: np.ndarray) -> np.memmap:
        try:
            m = np.lib.format.open_memmap(path, "r+")
        except (OSError, ValueError) as err:
            raise DrlrunError(f"replay memmap {path} cannot be opened ({err})") from None
        if m.dtype != live.dtype or m.shape != live.shape:
            raise DrlrunError(
                f"replay memmap {path} holds {m.dtype}{list(m.shape)} but this run's replay is "
                f"{live.dtype}{list(live.shape)}; resume with the config the run was started with"
            )
        return m

    def _write_manifest(self, commit: Commit, state: Literal["applying", "applied"]) -> None:
        manifest = Manifest(commit.commit_id, commit.generation, commit.written, state)
        text = json.dumps(asdict(manifest)) + "\n"
        atomic_write(self.folder / MANIFEST, lambda f: f.write(text.encode()))

    def _read_manifest(self) -> Manifest | None:
        try:
            return Manifest(**json.loads((self.folder / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    # --- resuming -----------------------------------------------------------------------------
    def restore(self, path: Path, record: dict[str, Any] | None) -> None:
        """Fill the live ring from the memmaps as checkpoint `path` (with `record`) saved them,
        rolling its committed journal forward if a kill interrupted it; refuse (changing
        nothing) when the memmaps have moved past that checkpoint."""
        if record is None:  # written before memmap replays: its replay was left out, and the
            return  # algorithm's resume caveat says so; the next commit rebuilds the memmaps
        commit = Commit.from_record(record)
        manifest = self._read_manifest()
        if (
            manifest is None
            or manifest.commit_id != commit.commit_id
            or manifest.state != "applied"
        ):
            if not self._can_roll_forward(commit, manifest):
                raise DrlrunError(self._mismatch(path, commit, manifest))
            self._apply(commit, self._journal_chunks(commit))
        maps = self._open(fresh=False)
        for name, live in self.replay.ring_arrays().items():
            np.copyto(live, maps[name])
        self.journal.unlink(missing_ok=True)  # an uncommitted attempt: no checkpoint names it
        self.last = commit

    def _can_roll_forward(self, commit: Commit, manifest: Manifest | None) -> bool:
        """The journal holds `commit`'s rows and the memmaps hold its parent, or a partial copy
        of `commit` (an "applying" one rewrites the same rows; a first commit rebuilds them)."""
        if not self._journal_is(commit):
            return False
        if commit.parent_id is None or manifest is None:
            return commit.parent_id is None
        at_parent = manifest.commit_id == commit.parent_id and manifest.state == "applied"
        return at_parent or manifest.commit_id == commit.commit_id

    def _journal_is(self, commit: Commit) -> bool:
        try:
            with open(self.journal, "rb") as f:
                head = f.read(ID_CHARS).decode("ascii", "replace")
                size = os.fstat(f.fileno()).st_size
        except OSError:
            return False
        return head == commit.commit_id and size == self._journal_bytes(commit)

    def _journal_chunks(self, commit: Commit) -> Iterator[Chunk]:
        """The journal's rows in `_live_chunks` order, read a bounded chunk at a time."""
        arrays = self.replay.ring_arrays()
        spans = ring_spans(commit.written - commit.count, commit.count, self.replay.rows)
        with open(self.journal, "rb") as f:
            f.seek(ID_CHARS)
            for name in sorted(arrays):
                live = arrays[name]
                step = max(1, CHUNK_BYTES // max(1, live[0].nbytes))
                for a, b in spans:
                    for lo in range(a, b, step):
                        hi = min(b, lo + step)
                        data = np.fromfile(f, live.dtype, (hi - lo) * live[0].size)
                        yield name, lo, hi, data.reshape(hi - lo, *live.shape[1:])

    def _mismatch(self, path: Path, commit: Commit, manifest: Manifest | None) -> str:
        """Why checkpoint `path` cannot resume with the memmaps as they are, and what to do."""
        if manifest is None:
            return (
                f"checkpoint {path} needs the replay memmap in {self.folder}, which is missing or "
                "incomplete; restore that folder, or start the run again with resume=false"
            )
        if manifest.commit_id == commit.commit_id:
            return (
                f"the replay memmap in {self.folder} was being updated to checkpoint {path} when "
                f"the run stopped, and its journal {self.journal} is missing or damaged; restore "
                "that file, or start the run again with resume=false"
            )
        added = manifest.written - commit.written
        if added <= 0:
            why = "it is not the state that checkpoint saved"
        elif added >= self.replay.rows:
            why = f"{added} rows were added since, so the ring rows it saved were overwritten"
        else:
            why = f"{added} rows were written after it"
        return (
            f"checkpoint {path.name} does not match the replay memmap in {self.folder} (it saved "
            f"replay commit {commit.generation}, the memmap holds commit {manifest.generation}; "
            f"{why}); a run with a memory-mapped replay resumes only from its newest "
            "checkpoint: resume=true or resume=<run dir>"
        )

    def corrupt_advice(self) -> str:
        """What to do when the newest checkpoint is unreadable (checkpoint.load's hint)."""
        return (
            "moving it aside to resume from the previous one works for this run only if it "
            f"stopped before this checkpoint's rows reached the replay memmap in {self.folder} "
            "(a previous checkpoint is refused once they did); otherwise start the run again "
            "with resume=false"
        )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
