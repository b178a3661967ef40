"""Find the run a `resume=...` request continues."""

from __future__ import annotations

from pathlib import Path

import yaml

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


def find_checkpoint(resume: object, run_dir: Path, overrides: list[str], roots: list[Path]):
    """(run dir to continue, checkpoint path) for `resume`, or None for a fresh run."""
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
