"""Run one preset on several seeds as one Hydra multirun in a fixed sweep dir, resumably.

Each preset's sweep lives in `<root>/<chapter>/<experiment>/<preset>/seed<N>/`; the command is an ordinary
`drlrun --multirun ... resume=true`, so finished jobs are skipped, interrupted ones continue from
their last checkpoint and missing ones start (README, "Resuming a sweep"), and the same dir can
be driven by any Hydra launcher (joblib here, `slurm` or `ray_cluster` elsewhere). A seed the
committed record already holds for the same composed config (its `config_digest`) is not run
again, so results gathered on other machines or in earlier sessions add up.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from drlrun.errors import DrlrunError
from drlrun.reproduce.catalogue import Experiment
from drlrun.resume import NEUTRAL_ADDITIONS, changed_settings
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
    """`<root>/<chapter>/<experiment key>/<preset>`: two experiments may run one preset (with
    other overrides), each in its own dir."""
    return options.root / experiment.chapter / experiment.key / preset


def finished_seeds(directory: Path) -> set[int]:
    """Seeds whose job in `directory` wrote a finished summary."""
    if not directory.is_dir() or not job_dirs(directory):
        return set()
    return {int(job.seed) for job in load_jobs(directory) if job.status == "finished"}


# Keys that say where a run's files are, not what it computes: left out of the digest.
NOT_COMPUTED = ("seed", "resume", "data", "hydra")


def job_overrides(options: LaunchOptions, experiment: Experiment, preset: str) -> list[str]:
    """The overrides every seed's job gets besides its seed (the preset, the experiment's own
    and the user's)."""
    return [f"+experiment={preset}", *experiment.overrides, *options.overrides]


def compose_job(options: LaunchOptions, experiment: Experiment, preset: str) -> DictConfig:
    """The config every seed's job of `preset` composes to (its seed aside)."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("drlrun.conf", version_base="1.3"):
        return compose("config", overrides=job_overrides(options, experiment, preset))


def config_digest(options: LaunchOptions, experiment: Experiment, preset: str) -> str:
    """A short hash of the job config `preset` composes to (seeds and file locations aside):
    a recorded seed counts as done only while this is unchanged."""
    cfg = compose_job(options, experiment, preset)
    computed = {k: v for k, v in OmegaConf.to_container(cfg).items() if k not in NOT_COMPUTED}
    for path, neutral in NEUTRAL_ADDITIONS.items():  # records written before they existed
        group, _, key = path.partition(".")
        block = computed.get(group)
        if isinstance(block, dict) and key in block and block[key] == neutral:
            del block[key]
    text = OmegaConf.to_yaml(OmegaConf.create(computed), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def command(
    options: LaunchOptions, experiment: Experiment, preset: str, seeds: Iterable[int] = ()
) -> list[str]:
    """The drlrun multirun command line for `seeds` (default: every seed of `options`)."""
    seeds = ",".join(str(s) for s in (tuple(seeds) or options.seeds))
    args = [
        sys.executable,
        "-m",
        "drlrun.cli",
        "--multirun",
        f"+experiment={preset}",
        f"seed={seeds}",
        f"hydra.sweep.dir={sweep_dir(options, experiment, preset)}",
        "hydra.sweep.subdir=seed${seed}",  # a seed's dir whichever seeds one launch runs
        "resume=true",
    ]
    if options.launcher != "basic":
        args.append(f"hydra/launcher={options.launcher}")
    if options.launcher == "joblib":
        args.append(f"hydra.launcher.n_jobs={options.jobs}")
    if experiment.needs_mnist and options.mnist_root:
        args.append(f"data.root={options.mnist_root}")
    return [*args, *job_overrides(options, experiment, preset)[1:]]


def check_sweep_dir(options: LaunchOptions, experiment: Experiment, preset: str) -> None:
    """Refuse, before anything runs, a sweep dir whose jobs ran another config of `preset` (a
    preset changed since): their finished summaries would count as the new config's results
    and their checkpoints cannot continue under it."""
    directory = sweep_dir(options, experiment, preset)
    if not directory.is_dir():
        return
    jobs = [d for d in job_dirs(directory) if (d / "config.yaml").exists()]
    if not jobs:
        return
    cfg = compose_job(options, experiment, preset)
    for job in jobs:
        cfg.seed = OmegaConf.load(job / "config.yaml").get("seed", cfg.seed)
        differ = changed_settings(job, cfg)
        if differ:
            raise DrlrunError(
                f"{job} ran another config of {preset} ({', '.join(differ)}); move "
                f"{directory} aside or pass --root DIR to keep both (nothing was changed)"
            )


def seeds_to_run(
    options: LaunchOptions, experiment: Experiment, preset: str, recorded: set[int]
) -> list[int]:
    """The seeds of `options` that neither the record (same config) nor the sweep dir has
    finished; with user overrides the sweep dir's jobs are left to drlrun's own resume."""
    done = set(recorded)
    if not options.overrides:
        done |= finished_seeds(sweep_dir(options, experiment, preset))
    return [s for s in options.seeds if s not in done]


def launch(
    options: LaunchOptions, experiment: Experiment, preset: str, recorded: set[int] = frozenset()
) -> int:
    """Run (or continue) `preset`'s missing seeds; the exit code (0 also when none was left)."""
    seeds = seeds_to_run(options, experiment, preset, recorded)
    if not seeds:
        return 0
    sweep_dir(options, experiment, preset).parent.mkdir(parents=True, exist_ok=True)
    return subprocess.call(command(options, experiment, preset, seeds))
