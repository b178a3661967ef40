"""Hydra callback: at the end of a sweep, list the jobs that failed (they did not stop it)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from drlrun.resume import read_summary
from drlrun.sweep.failures import resolve_job_dir
from drlrun.sweep.jobs import job_dirs

log = logging.getLogger("drlrun")
# Failed job dirs of the last sweep in this process; `drlrun` exits 1 when it is not empty.
FAILED_JOBS: list[Path] = []


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        dirs = [resolve_job_dir(d) for d in job_dirs(sweep_dir)]
        FAILED_JOBS[:] = [d for d in dirs if (read_summary(d) or {}).get("status") == "failed"]
        for d in FAILED_JOBS:
            log.error("job failed: %s: %s", d, read_summary(d).get("error"))
        if FAILED_JOBS:
            log.error(
                "%d of %d jobs failed; the others finished. drlrun-report %s tabulates them; "
                "rerun the same command with resume=true to retry",
                len(FAILED_JOBS),
                len(dirs),
                sweep_dir,
            )
