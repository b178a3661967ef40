"""Record a failed sweep job in its run dir, where drlrun-report and a resumed sweep find it."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

from drlrun.rundir import continued_in, write_text_atomic


def record_failure(run_dir: Path, err: BaseException) -> dict[str, Any]:
    """Mark `run_dir/summary.json` failed with the error text (keeping what the runner wrote, e.g.
    frames reached) and write the traceback to error.txt; returns the summary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    summary: dict[str, Any] = {}
    if path.exists():
        try:
            summary = json.loads(path.read_text())
        except json.JSONDecodeError:
            summary = {}
    summary.update(status="failed", error=f"{type(err).__name__}: {err}")
    write_text_atomic(path, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(run_dir / "error.txt", "".join(traceback.format_exception(err)))
    return summary


def resolve_job_dir(job_dir: Path) -> Path:
    """The dir holding a job's results: itself, or the older run it continued."""
    return continued_in(job_dir) or job_dir
