"""Run one preset on several seeds as one Hydra multirun in a fixed sweep dir, resumably.

Each preset's sweep lives in `<root>/<chapter>/<preset>/`; the command is an ordinary
`drlrun --multirun ... resume=true`, so finished jobs are skipped, interrupted ones continue from
their last checkpoint and missing ones start (README, "Resuming a sweep"), and the same dir can
be driven by any Hydra launcher (joblib here, `slurm` or `ray_cluster` elsewhere).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from drlrun.reproduce.catalogue import Experiment
from drlrun.sweep.jobs import job_dirs, load_jobs

LAUNCHERS = ("joblib", "basic", "slurm", "ray", "ray_cluster")


@dataclass(frozen=True)
class LaunchOptions:
    root: Path
    seeds: tuple[int, ...] = (0, 1, 2)
    launcher: str = "joblib"
    jobs: int = 1  # joblib's n_jobs: runs at a time on this machine
    mnist_root: str | None = None
    overrides: tuple[str, ...] = ()  # the user's, added to every job


def sweep_dir(options: LaunchOptions, experiment: Experiment, preset: str) -> Path:
    return options.root / experiment.chapter / preset


def finished_seeds(directory: Path) -> set[int]:
    """Seeds whose job in `directory` wrote a finished summary."""
    if not directory.is_dir() or not job_dirs(directory):
        return set()
    return {int(job.seed) for job in load_jobs(directory) if job.status == "finished"}


def command(options: LaunchOptions, experiment: Experiment, preset: str) -> list[str]:
    """The drlrun multirun command line for `preset`'s seeds."""
    seeds = ",".join(str(s) for s in options.seeds)
    args = [
        sys.executable,
        "-m",
        "drlrun.cli",
        "--multirun",
        f"+experiment={preset}",
        f"seed={seeds}",
        f"hydra.sweep.dir={sweep_dir(options, experiment, preset)}",
        "resume=true",
    ]
    if options.launcher != "basic":
        args.append(f"hydra/launcher={options.launcher}")
    if options.launcher == "joblib":
        args.append(f"hydra.launcher.n_jobs={options.jobs}")
    if experiment.needs_mnist and options.mnist_root:
        args.append(f"data.root={options.mnist_root}")
    return [*args, *experiment.overrides, *options.overrides]


def launch(options: LaunchOptions, experiment: Experiment, preset: str) -> int:
    """Run (or continue) `preset`'s sweep; its exit code (0 also when every seed was done)."""
    directory = sweep_dir(options, experiment, preset)
    if not options.overrides and set(options.seeds) <= finished_seeds(directory):
        return 0
    directory.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.call(command(options, experiment, preset))
