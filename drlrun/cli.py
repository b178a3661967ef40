"""The `drlrun` entrypoint: Hydra composes the config, this module runs it.

User errors (unknown group options, wrong types, incompatible choices, bad checkpoints) print
one line and exit with code 2; Ctrl-C / SIGTERM save a checkpoint before exiting.
"""

from __future__ import annotations

import functools
import logging
import re
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from drlrun import claim as run_claim
from drlrun.claim import claim_sweep_job
from drlrun.errors import DrlrunError
from drlrun.resume import finished_summary
from drlrun.rundir import write_text_atomic
from drlrun.sweep import callbacks
from drlrun.sweep.failures import record_failure
from drlrun.sweep.result import JobResult

log = logging.getLogger("drlrun")
GROUPS = (
    "algo",
    "net",
    "env",
    "device",
    "experiment",
    "replay",
    "curiosity",
    "tuned",
    "book_switches",
)
_GROUP_ARG = re.compile(r"^\+{0,2}(?P<group>[a-z_]+)=(?P<value>[^\s]+)$")


@functools.cache
def _config_repository():
    """Hydra's view of every config dir: drlrun's and those plugins add to the search path."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_module("drlrun.conf", version_base="1.3"):
        return GlobalHydra.instance().config_loader()


def group_options(group: str) -> list[str]:
    """Options of a config group, plugins' included (e.g. algo=cem from a plugin package)."""
    return sorted(_config_repository().get_group_options(group))


def check_group_args(argv: list[str]) -> None:
    """Reject unknown config-group options before Hydra composes (clear line, exit 2)."""
    for arg in argv:
        m = _GROUP_ARG.match(arg)
        if not m or m.group("group") not in GROUPS:
            continue
        value = m.group("value")
        if any(ch in value for ch in "()[]{}*$"):
            continue  # sweep functions and interpolations: Hydra's business
        options = group_options(m.group("group"))
        for choice in value.split(","):
            if choice not in options:
                raise DrlrunError(
                    f"unknown {m.group('group')} {choice!r}; choose one of: {', '.join(options)}"
                )


def check_composition(argv: list[str]) -> DictConfig | None:
    """Compose a single run's config up front so Hydra's override errors (unknown keys, bad
    syntax) become one line and exit code 2; sweeps and Hydra's own flags are left to Hydra.
    Returns the composed config (None when left to Hydra)."""
    if any(a.startswith("-") for a in argv):
        return None
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_module("drlrun.conf", version_base="1.3"):
            return compose("config", overrides=argv)
    except (HydraException, OmegaConfBaseException) as err:
        raise DrlrunError(_one_line(err)) from None


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return "; ".join(ln for ln in lines if not ln.startswith(("full_key", "object_type")))


def check_config(cfg: DictConfig) -> None:
    """preflight.check_config on a copy of the composed config before Hydra starts the job: a
    config error is one line and exit 2 in about a second, without importing torch, and no
    run dir is created."""
    from omegaconf.errors import OmegaConfBaseException

    from drlrun import preflight

    try:
        preflight.check_config(cfg.copy())  # the fidelity switches write into the config
    except OmegaConfBaseException as err:  # e.g. an interpolation only the job can resolve
        log.debug("config pre-check left to the job: %s", _one_line(err))


def run(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> dict:
    """Run one job of the composed config in `run_dir`; returns the summary."""
    from drlrun.runner import Runner
    from drlrun.session import build
    from drlrun.settings import runner_settings, validate
    from drlrun.sweep.tuning import trial_reporter

    if resume_from is not None:
        done = finished_summary(run_dir, validate(cfg).budget)
        if done is not None:
            log.info(
                "%s already finished its budget; skipped (raise budget.* to extend it)", run_dir
            )
            return done
    built = build(cfg, run_dir)  # config errors surface here, before the dir holds a run
    if resume_from is None:
        write_text_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    try:
        settings = runner_settings(built.top, built.env.frame_skip)
        settings.ablations = built.ablations
        settings.compute = built.compute
        return Runner(built.algo, settings, run_dir, trial_reporter()).run(resume_from)
    finally:
        built.algo.close()
        built.env.close()


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> JobResult:
    """One job. In a sweep a failing job records its error in its run dir and returns, so the
    other jobs go on; the sweep's end lists the failures (drlrun.sweep.callbacks)."""
    from drlrun.runner import Interrupted

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    claim = None
    try:
        if multirun:
            claim = claim_sweep_job(cfg)
        elif run_claim.CLAIM is None:
            raise DrlrunError(
                "hydra.callbacks lacks run_dir_guard (drlrun.claim.RunDirGuard), which claims "
                "the run dir; keep it when overriding hydra.callbacks"
            )
        else:
            claim = run_claim.CLAIM
        run_dir = claim.located.run_dir
        return JobResult(run(cfg, run_dir, claim.located.checkpoint))
    except DrlrunError as err:
        log.error("%s", err)
        if multirun:  # a job that holds no dir (in use, or a refused one) writes nothing there
            return JobResult(record_failure(run_dir, err) if claim else _failed(err))
        print(f"drlrun: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        msg = f"drlrun: {name}: checkpoint saved to {stop.path}; rerun with resume=true to continue"
        log.warning(msg)
        print(msg, file=sys.stderr)
        sys.exit(128 + stop.signum)
    except Exception as err:
        if not multirun:
            raise
        log.exception("job failed")
        return JobResult(record_failure(run_dir, err) if claim else _failed(err))
    finally:
        if claim is not None:
            claim.release()


def _failed(err: BaseException) -> dict:
    return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


def main() -> None:
    """Console script `drlrun`."""
    try:
        check_group_args(sys.argv[1:])
        composed = check_composition(sys.argv[1:])
        if composed is not None:
            check_config(composed)
    except DrlrunError as err:
        print(f"drlrun: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    _hydra_main()
    if callbacks.FAILED_JOBS:
        sys.exit(1)  # the sweep ran to its end, but some jobs failed (listed above)


if __name__ == "__main__":
    main()
