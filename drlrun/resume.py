"""Find the run a `resume=...` request continues, and tell whether it has anything left to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from drlrun import checkpoint
from drlrun.errors import DrlrunError

IGNORED_PREFIXES = ("resume=", "hydra.", "budget.", "+resume=")


def _key(overrides: list[str]) -> list[str]:
    """Overrides that identify a run: all but resume, hydra.* and budget.* (a resumed run may
    be extended with a larger budget)."""
    return sorted(o for o in overrides if not o.startswith(IGNORED_PREFIXES))


def _overrides(run_dir: Path) -> list[str] | None:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return None
    return list(yaml.safe_load(path.read_text()) or [])


def find_checkpoint(
    resume: object, run_dir: Path, overrides: list[str], roots: list[Path], missing_ok: bool = False
):
    """(run dir to continue, checkpoint path) for `resume`, or None for a fresh run.

    `missing_ok`: `resume=true` with no earlier run starts fresh instead of failing (a resumed
    sweep holds jobs that never started)."""
    if resume is False or resume is None or resume == "false":
        return None
    if resume is True or resume == "true":
        own = checkpoint.latest(run_dir / "checkpoints")
        if own is not None:
            return run_dir, own
        wanted = _key(overrides)
        candidates = []
        for root in roots:
            if not root.is_dir():
                continue
            for hydra_dir in root.rglob(".hydra"):
                other = hydra_dir.parent
                if other.resolve() == run_dir.resolve() or _overrides(other) is None:
                    continue
                if _key(_overrides(other) or []) != wanted:
                    continue
                ckpt = checkpoint.latest(other / "checkpoints")
                if ckpt is not None:
                    candidates.append((ckpt.stat().st_mtime, other, ckpt))
        if not candidates:
            if missing_ok:
                return None
            where = ", ".join(str(r) for r in roots)
            raise DrlrunError(
                f"resume=true found no earlier run of this command with a checkpoint under {where}; "
                "run without resume, or pass resume=<run dir>"
            )
        _, other, ckpt = max(candidates)
        return other, ckpt
    path = Path(str(resume)).expanduser()
    if path.is_file():
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent, path
    if path.is_dir():
        ckpt = checkpoint.latest(path / "checkpoints")
        if ckpt is None:
            raise DrlrunError(f"resume={path}: no checkpoints/ckpt_*.pt in that run dir")
        return path, ckpt
    raise DrlrunError(f"resume={resume}: no such run dir or checkpoint file")


# Keys that define what a run computes; a run may only be continued under the same values.
IDENTITY_KEYS = ("algo", "net", "env", "seed", "fidelity")


def _differences(saved: Any, now: Any, path: str) -> list[str]:
    """Dotted paths where `now` changes `saved`. Keys `saved` lacks are options added since
    the run was written; such an option's default keeps the old behaviour, so they match."""
    if not (isinstance(saved, dict) and isinstance(now, dict)):
        return [] if saved == now else [path]
    found: list[str] = []
    for key, value in saved.items():
        where = f"{path}.{key}"
        found += _differences(value, now[key], where) if key in now else [where]
    return found


def check_same_run(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to continue `run_dir` under a config that computes something else (e.g. a changed
    sweep whose job numbers now point at other jobs)."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        return
    saved = OmegaConf.to_container(OmegaConf.load(saved_path), resolve=True)
    now = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(saved, dict) and isinstance(now, dict)
    differ = [d for k in IDENTITY_KEYS for d in _differences(saved.get(k), now.get(k), k)]
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
