"""Owning a run dir: the lock a live run holds on it, atomic text writes, the temp files an
interrupted run left behind, and which dirs under a search root are runs of a given command.

Nothing here imports torch: the CLI uses it before anything heavy is loaded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from drlrun.errors import DrlrunError

log = logging.getLogger("drlrun")

LOCK_NAME = ".drlrun.lock"
# A job of a resumed sweep that continued an older run dir leaves this pointer in its own dir.
CONTINUED_IN = "continued_in.txt"
# What a run writes at its top level: a dir holding any of these already holds a run.
RUN_OUTPUTS = ("config.yaml", "metrics.csv", "summary.json", "checkpoints")
# Temp files of drlrun's atomic writes: ".<name>.<random>.tmp" next to the file they replace.
_TEMP = re.compile(r"^\.(ckpt_\d{12}\.pt|metrics\.csv|summary\.json|[\w.-]+)\.[\w-]+\.tmp$")
# Folders that never hold a run dir (skipped when searching a root).
_NOT_RUNS = {"checkpoints", "tb", "videos", "replay", "wandb", "mlruns", ".submitit"}


# --- atomic writes --------------------------------------------------------------------------
def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Files written atomically get the usual permissions (mkstemp's own are 0600).
_FILE_MODE = 0o666 & ~_umask()


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` through a temp file in the same folder (fsync, rename): a kill
    at any moment leaves either the old file or the new one, never a cut one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete the temp files of atomic writes that a killed run left in `run_dir` and its
    checkpoints/ (a checkpoint's can be gigabytes). Call only while holding the run's lock."""
    removed = []
    for folder in (run_dir, run_dir / "checkpoints"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _TEMP.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log.info("removed %d temp file(s) an interrupted run left in %s", len(removed), run_dir)
    return removed


# --- checkpoints (listed here, without torch, so resume and the CLI start fast) -------------
CHECKPOINT = re.compile(r"^ckpt_(\d{12})\.pt$")


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in `folder`, oldest first (by the step in their name)."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1] if found else None


# --- the lock -------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDirLock:
    """An exclusive `flock` on `<run_dir>/.drlrun.lock`, which names its holder (host, pid).

    The kernel drops the lock when its process dies, so a lock left by a SIGKILL is simply taken
    over. Worker processes forked by the run inherit the descriptor; if they outlive a killed
    run on this host, the lock file is replaced (the dead holder's pid proves it stale)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, create: bool = True) -> None:
        """Take the lock (DrlrunError naming the holder when a live run has it). `create=False`
        only tests it: nothing is created, and the holder's name is not rewritten."""
        if create:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
            except FileNotFoundError:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                holder = self._holder()
                if holder.get("host") == socket.gethostname() and not _pid_alive(
                    int(holder.get("pid", -1))
                ):  # held only by orphaned workers of a dead run: start a new lock file
                    if not create:
                        return
                    self.path.unlink(missing_ok=True)
                    continue
                raise DrlrunError(
                    f"run dir {self.run_dir} is in use by another drlrun run (host "
                    f"{holder.get('host', '?')}, pid {holder.get('pid', '?')}, since "
                    f"{holder.get('since', '?')}); wait for it to end, or choose another "
                    "hydra.run.dir / hydra.sweep.dir"
                ) from None
            self._fd = fd
            if not create:
                return
            previous = self._holder()
            if previous and not (
                previous.get("host") == socket.gethostname() and previous.get("pid") == os.getpid()
            ):
                log.info(
                    "took over the lock of %s left by a run that ended (host %s, pid %s)",
                    self.run_dir,
                    previous.get("host"),
                    previous.get("pid"),
                )
            me = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
            return
        raise DrlrunError(f"could not take the lock {self.path}")

    def check_free(self) -> None:
        """Raise if a live run holds the lock, without creating or changing anything."""
        if not self.path.is_file():
            return
        self.acquire(create=False)
        self.release(clear=False)

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return {}

    def release(self, clear: bool = True) -> None:
        """Unlock, clearing the holder's name (the file stays: removing it could let two runs
        lock two different files). A lock file still naming a holder was left by a kill."""
        if self._fd is not None:
            if clear:
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- finding runs ---------------------------------------------------------------------------
def search_root(pattern: str, cwd: Path) -> Path:
    """Where `resume=true` looks for earlier runs: the run (or sweep) dir pattern up to the
    folder before its first `${...}` interpolation, relative to `cwd`. A pattern without
    interpolation is its own root: that one dir, nothing else."""
    cut = pattern.find("${")
    prefix = pattern if cut < 0 else pattern[: pattern.rfind("/", 0, cut) + 1]
    root = Path(prefix or ".").expanduser()
    return (root if root.is_absolute() else cwd / root).resolve()


def run_outputs(run_dir: Path) -> list[str]:
    """What `run_dir` already holds of a run's output (an empty checkpoints/ does not count)."""
    found = [n for n in RUN_OUTPUTS if n != "checkpoints" and (run_dir / n).exists()]
    return found + (["checkpoints"] if list_checkpoints(run_dir / "checkpoints") else [])


def holds_run(run_dir: Path) -> bool:
    """True when `run_dir` already holds what a run writes (so a fresh run must not use it)."""
    return bool(run_outputs(run_dir))


def overrides_of(run_dir: Path) -> list[str] | None:
    """The command-line overrides a run dir was started with (Hydra's record), or None."""
    path = run_dir / ".hydra" / "overrides.yaml"
    try:
        return [str(o) for o in yaml.safe_load(path.read_text()) or []]
    except (OSError, yaml.YAMLError):
        return None


def last_active(run_dir: Path) -> float:
    """When a run last wrote anything that matters (its newest checkpoint, metrics, summary)."""
    stamps = [0.0]
    for name in ("metrics.csv", "summary.json", "config.yaml", ".hydra/overrides.yaml"):
        with contextlib.suppress(OSError):
            stamps.append((run_dir / name).stat().st_mtime)
    ckpts = run_dir / "checkpoints"
    if ckpts.is_dir():
        for path in ckpts.iterdir():
            with contextlib.suppress(OSError):
                stamps.append(path.stat().st_mtime)
    return max(stamps)


def _hydra_dirs(root: Path) -> Iterator[Path]:
    """Dirs under `root` (itself included) holding `.hydra/overrides.yaml`, without following
    links or descending into a run's own output folders."""
    for here, dirs, _ in os.walk(root, followlinks=False):
        if ".hydra" in dirs and (Path(here) / ".hydra" / "overrides.yaml").is_file():
            yield Path(here)
        dirs[:] = [d for d in dirs if d not in _NOT_RUNS and d != ".hydra"]


def continued_in(job_dir: Path) -> Path | None:
    """The run dir a sweep job's pointer names, if it left one."""
    pointer = job_dir / CONTINUED_IN
    try:
        return Path(pointer.read_text().strip())
    except OSError:
        return None


def runs_of_command(root: Path, key: list[str], identify) -> list[Path]:
    """Run dirs under `root` started by the same command (`identify(overrides) == key`) that
    got as far as writing their config; a sweep job's pointer counts as the run it names when
    that run lies under `root` too."""
    found: dict[Path, None] = {}
    if not root.is_dir():
        return []
    for run_dir in _hydra_dirs(root):
        overrides = overrides_of(run_dir)
        if overrides is None or identify(overrides) != key:
            continue
        target = continued_in(run_dir)
        if target is not None:
            target = target.resolve()
            if target.is_relative_to(root) and (target / "config.yaml").exists():
                found[target] = None
            continue
        if (run_dir / "config.yaml").exists():
            found[run_dir.resolve()] = None
    return list(found)
