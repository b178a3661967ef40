"""The `drlrun` entrypoint: Hydra composes the config, this module runs it.

User errors (unknown group options, wrong types, incompatible choices, bad checkpoints) print
one line and exit with code 2; Ctrl-C / SIGTERM save a checkpoint before exiting.
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import sys
from importlib import resources
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from drlrun.errors import DrlrunError
from drlrun.resume import find_checkpoint

log = logging.getLogger("drlrun")
GROUPS = ("algo", "net", "env", "device", "experiment", "replay")
_GROUP_ARG = re.compile(r"^\+{0,2}(?P<group>[a-z_]+)=(?P<value>[^\s]+)$")


def conf_dir() -> Path:
    return Path(str(resources.files("drlrun") / "conf"))


def group_options(group: str) -> list[str]:
    folder = conf_dir() / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


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


def _attach_log_file(run_dir: Path) -> None:
    handler = logging.FileHandler(run_dir / "drlrun.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logging.getLogger().addHandler(handler)


def run(cfg: DictConfig) -> dict:
    """Run one job of the composed config; returns the summary."""
    from drlrun.runner import Runner
    from drlrun.session import build
    from drlrun.settings import runner_settings

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    roots = [Path(hc.run.dir).parts[0], Path(hc.sweep.dir).parts[0]]
    found = find_checkpoint(
        cfg.resume, run_dir, list(hc.overrides.task), [Path(r) for r in dict.fromkeys(roots)]
    )
    resume_from = None
    if found is not None:
        old_dir, resume_from = found
        if old_dir.resolve() != run_dir.resolve():
            log.info("continuing run %s (this invocation's dir %s is removed)", old_dir, run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir = old_dir
            _attach_log_file(run_dir)
    else:
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    built = build(cfg, run_dir)
    try:
        settings = runner_settings(built.top, built.env.frame_skip)
        return Runner(built.algo, settings, run_dir).run(resume_from)
    finally:
        built.algo.close()
        built.env.close()


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    from drlrun.runner import Interrupted

    try:
        run(cfg)
    except DrlrunError as err:
        log.error("%s", err)
        if HydraConfig.get().mode.name == "MULTIRUN":
            raise  # let the launcher record the failed job
        print(f"drlrun: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        msg = f"drlrun: {name}: checkpoint saved to {stop.path}; rerun with resume=true to continue"
        log.warning(msg)
        print(msg, file=sys.stderr)
        sys.exit(128 + stop.signum)


def main() -> None:
    """Console script `drlrun`."""
    try:
        check_group_args(sys.argv[1:])
    except DrlrunError as err:
        print(f"drlrun: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    _hydra_main()


if __name__ == "__main__":
    main()
