"""Find the run a `resume=...` request continues, and tell whether it has anything left to do."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from drlrun.errors import DrlrunError
from drlrun.rundir import (
    holds_run,
    last_active,
    latest_checkpoint,
    run_outputs,
    runs_of_command,
)

IGNORED_PREFIXES = ("resume=", "hydra.", "budget.", "+resume=")


def command_key(overrides: list[str]) -> list[str]:
    """Overrides that identify a run: all but resume, hydra.* and budget.* (a resumed run may
    be extended with a larger budget)."""
    return sorted(o for o in overrides if not o.startswith(IGNORED_PREFIXES))


@dataclass
class Located:
    """Where a job writes and what it continues from."""

    run_dir: Path
    checkpoint: Path | None  # None: a fresh start (in `run_dir`)
    note: str | None = None  # what to tell the user about the choice


def _refuse_used(run_dir: Path) -> None:
    if holds_run(run_dir):
        present = ", ".join(run_outputs(run_dir))
        raise DrlrunError(
            f"{run_dir} already holds a run ({present}); continue it with resume=true, or "
            "choose another hydra.run.dir (nothing was changed)"
        )


def locate(
    resume: object, own_dir: Path, root: Path, overrides: list[str], missing_ok: bool = False
) -> Located:
    """The run dir and checkpoint for `resume`, reading only (nothing is written here).

    `resume=true` continues this job's own dir when it holds a checkpoint; otherwise the newest
    run of the same command under `root` (`rundir.search_root`): from its last checkpoint, or
    afresh in its dir when it stopped before its first one. An older look-alike is never
    adopted. `missing_ok`: with no earlier run, start fresh instead of failing (a resumed sweep
    holds jobs that never started)."""
    if resume is False or resume is None or resume == "false":
        _refuse_used(own_dir)
        return Located(own_dir, None)
    if resume is True or resume == "true":
        own = latest_checkpoint(own_dir / "checkpoints")
        if own is not None:
            return Located(own_dir, own)
        runs = runs_of_command(root, command_key(overrides), command_key)
        if not runs:
            if missing_ok:
                _refuse_used(own_dir)
                return Located(own_dir, None)
            raise DrlrunError(
                f"resume=true: no earlier run of this command with a checkpoint in {root}; "
                "run without resume, or pass resume=<run dir>"
            )
        newest = max(runs, key=last_active)
        ckpt = latest_checkpoint(newest / "checkpoints")
        if ckpt is None:
            return Located(
                newest,
                None,
                f"resume=true: the newest run of this command, {newest}, stopped before its "
                "first checkpoint; starting it afresh in that dir",
            )
        return Located(newest, ckpt)
    path = Path(str(resume)).expanduser().resolve()
    if path.is_file():
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        return Located(run_dir, path)
    if path.is_dir():
        ckpt = latest_checkpoint(path / "checkpoints")
        if ckpt is None:
            raise DrlrunError(f"resume={path}: no checkpoints/ckpt_*.pt in that run dir")
        return Located(path, ckpt)
    raise DrlrunError(f"resume={resume}: no such run dir or checkpoint file")


# Keys that define what a run computes; a run may only be continued under the same values.
IDENTITY_KEYS = ("algo", "net", "env", "seed", "fidelity")

# Options added after runs (and reproduction records) were written, with the value that
# computes what those runs did: a config lacking the key equals one holding this value.
NEUTRAL_ADDITIONS: dict[str, object] = {
    "algo.ez_mu": None,
    "algo.ez_max_duration": 10_000,
}


def _differences(saved: Any, now: Any, path: str) -> list[str]:
    """Dotted paths where `now` changes `saved`. Keys `saved` lacks are options added since
    the run was written; such an option's default keeps the old behaviour, so they match,
    unless NEUTRAL_ADDITIONS knows the option and `now` sets it to something else."""
    if not (isinstance(saved, dict) and isinstance(now, dict)):
        return [] if saved == now else [path]
    found: list[str] = []
    for key, value in saved.items():
        where = f"{path}.{key}"
        found += _differences(value, now[key], where) if key in now else [where]
    for key in now.keys() - saved.keys():
        where = f"{path}.{key}"
        neutral = NEUTRAL_ADDITIONS.get(where, now[key])
        found += [] if now[key] == neutral else [where]
    return found


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def changed_settings(run_dir: Path, cfg: DictConfig) -> list[str]:
    """Dotted paths of the identity settings where `cfg` computes something other than the run
    in `run_dir` (none when it has no config.yaml)."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        return []
    saved = OmegaConf.to_container(OmegaConf.load(saved_path), resolve=True)
    assert isinstance(saved, dict)
    from drlrun.book.switches import apply_fidelity

    cfg = cfg.copy()
    apply_fidelity(cfg)  # the saved config holds the switches' effective values
    now = {k: _plain(cfg.get(k)) for k in IDENTITY_KEYS}
    return [d for k in IDENTITY_KEYS for d in _differences(saved.get(k), now.get(k), k)]


def check_same_run(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to continue `run_dir` under a config that computes something else (e.g. a changed
    sweep whose job numbers now point at other jobs)."""
    differ = changed_settings(run_dir, cfg)
    if differ:
        raise DrlrunError(
            f"resume: {run_dir} was run with other settings ({', '.join(differ)}); resume with "
            "the same overrides, or pass resume=false / another hydra.sweep.dir"
        )


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "summary.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def finished_summary(run_dir: Path, budget: Any) -> dict[str, Any] | None:
    """The summary of `run_dir` when it finished and spent `budget` (nothing left to run)."""
    summary = read_summary(run_dir)
    if not summary or summary.get("status") != "finished":
        return None
    spent = (
        (budget.frames is not None and summary.get("frames", 0) >= budget.frames)
        or (budget.iterations is not None and summary.get("iterations", 0) >= budget.iterations)
        or (budget.seconds is not None and summary.get("wall_time_s", 0.0) >= budget.seconds)
    )
    return summary if spent else None
