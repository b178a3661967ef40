"""Claiming a job's run dir: find the run `resume` continues, lock the dir, clear what a killed
run left there. Single runs are claimed by a Hydra callback before Hydra writes into the dir;
sweep jobs claim theirs in the job's own process."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from drlrun.errors import DrlrunError
from drlrun.resume import Located, check_same_run, locate
from drlrun.rundir import (
    CONTINUED_IN,
    RunDirLock,
    holds_run,
    remove_stale_temps,
    search_root,
    write_text_atomic,
)
from drlrun.sweep.jobs import job_dirs

log = logging.getLogger("drlrun")


def _attach_log_file(run_dir: Path) -> None:
    handler = logging.FileHandler(run_dir / "drlrun.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logging.getLogger().addHandler(handler)


def _raw(node: DictConfig, key: str) -> str:
    """A Hydra setting as written (interpolations kept), e.g. run.dir's `${now:...}` pattern."""
    return str(OmegaConf.to_container(node, resolve=False)[key])


@dataclass
class Claim:
    """A job's run dir, held: where it writes, what it resumes, and the locks it holds."""

    located: Located
    locks: list[RunDirLock] = field(default_factory=list)

    def release(self) -> None:
        for lock in self.locks:
            lock.release()
        self.locks.clear()


def _hold(located: Located, cfg: DictConfig, extra: Path | None = None) -> Claim:
    """Lock the run dir (and `extra`, this job's own dir when it continues another), check the
    config may continue it, and clear the temp files a killed run left there."""
    claim = Claim(located)
    try:
        for folder in dict.fromkeys(p for p in (located.run_dir, extra) if p is not None):
            lock = RunDirLock(folder)
            lock.acquire()
            claim.locks.append(lock)
        if located.checkpoint is not None:
            check_same_run(located.run_dir, cfg)
        remove_stale_temps(located.run_dir)
    except BaseException:
        claim.release()
        raise
    if located.note:
        log.warning("%s", located.note)
    return claim


# The single run's claim, made by RunDirGuard before Hydra writes into the run dir.
CLAIM: Claim | None = None


class RunDirGuard(Callback):
    """Claims the run dir before Hydra creates or writes into it (Hydra saves `.hydra/` before
    the task runs): a refused resume or a dir in use by a live run leaves nothing behind."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra turns a callback's exception into a warning and goes on: never let one escape
        try:
            self._claim(config)
        except DrlrunError as err:
            print(f"drlrun: error: {err}", file=sys.stderr)
            sys.exit(err.exit_code)
        except Exception:
            log.exception("drlrun: could not claim the run dir")
            sys.exit(1)

    @staticmethod
    def _claim(config: DictConfig) -> None:
        global CLAIM
        hc = config.hydra
        cwd = Path(hc.runtime.cwd)
        own = (cwd / str(hc.run.dir)).resolve()
        RunDirLock(own).check_free()  # a live run's dir: name it before anything else
        located = locate(
            config.resume,
            own,
            search_root(_raw(hc.run, "dir"), cwd),
            [str(o) for o in hc.overrides.task],
        )
        existing = (located.run_dir / ".hydra").is_dir()
        CLAIM = _hold(located, config)
        with read_write(hc), open_dict(hc):
            if located.run_dir != own:  # continue the run in its own dir; none is made here
                log.info("continuing run %s (hydra.run.dir %s is not used)", located.run_dir, own)
                hc.run.dir = str(located.run_dir)
            if existing and hc.output_subdir is not None:  # keep the run's own .hydra record
                hc.output_subdir = f"{hc.output_subdir}/resumed/{time.strftime('%Y%m%d-%H%M%S')}"

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """One sweep at a time in a sweep dir (each job also locks its own dir); a fresh basic
        sweep, whose jobs are numbered from 0 again, refuses a sweep dir holding runs."""
        global _SWEEP_LOCK
        sweep_dir = (Path(config.hydra.runtime.cwd) / str(config.hydra.sweep.dir)).resolve()
        try:
            if config.resume in (False, None, "false") and config.hydra.sweeper.get(
                "_target_", ""
            ).endswith(".BasicSweeper"):
                used = (
                    [d for d in job_dirs(sweep_dir) if holds_run(d)] if sweep_dir.is_dir() else []
                )
                if used:
                    raise DrlrunError(
                        f"hydra.sweep.dir {sweep_dir} already holds {len(used)} run(s) of an "
                        "earlier sweep; continue them with resume=true, or choose another "
                        "hydra.sweep.dir (nothing was changed)"
                    )
            _SWEEP_LOCK = RunDirLock(sweep_dir)
            _SWEEP_LOCK.acquire()
        except DrlrunError as err:
            print(f"drlrun: error: {err}", file=sys.stderr)
            sys.exit(err.exit_code)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if _SWEEP_LOCK is not None:
            _SWEEP_LOCK.release()


_SWEEP_LOCK: RunDirLock | None = None


def claim_sweep_job(cfg: DictConfig) -> Claim:
    """Locate and hold a sweep job's run dir, in the job's own process. A job continuing an
    older run (default timestamped sweep dirs) leaves a pointer in its own dir, where
    drlrun-report finds it; a fixed hydra.sweep.dir is never left."""
    hc = HydraConfig.get()
    cwd = Path(hc.runtime.cwd)
    own = Path(hc.runtime.output_dir).resolve()
    RunDirLock(own).check_free()
    located = locate(
        cfg.resume,
        own,
        search_root(_raw(hc.sweep, "dir"), cwd),
        list(hc.overrides.task),
        missing_ok=True,
    )
    claim = _hold(located, cfg, extra=own)
    if located.run_dir != own:
        log.info("continuing run %s (this job's dir %s points to it)", located.run_dir, own)
        write_text_atomic(own / CONTINUED_IN, str(located.run_dir) + "\n")
        _attach_log_file(located.run_dir)
    return claim
