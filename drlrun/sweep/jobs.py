"""Read a sweep's jobs from disk: overrides, summary.json and metrics.csv of each job dir."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drlrun.errors import DrlrunError
from drlrun.resume import read_summary
from drlrun.sweep.failures import resolve_job_dir

# Overrides that never tell jobs apart in a report.
NOT_GROUPING = ("resume", "hydra", "seed")


@dataclass
class Job:
    dir: Path  # where results live (a continued run's original dir)
    overrides: dict[str, str]
    summary: dict[str, Any] | None
    rows: list[dict[str, str]] = field(default_factory=list)
    book: dict[str, float] = field(default_factory=dict)  # the preset's reported numbers

    @property
    def status(self) -> str:
        return (self.summary or {}).get("status", "not finished")

    @property
    def seed(self) -> str:
        return self.overrides.get("seed", "0")

    def value(self, key: str) -> float:
        v = (self.summary or {}).get(key)
        return float(v) if isinstance(v, int | float) else math.nan

    def curve(self, column: str, kinds: tuple[str, ...]) -> tuple[list[int], list[float]]:
        """(frames, values) of `column` over the metrics.csv rows of the given kinds."""
        xs, ys = [], []
        for row in self.rows:
            if row.get("kind") in kinds and row.get(column) not in (None, ""):
                xs.append(int(row["frames"]))
                ys.append(float(row[column]))
        return xs, ys


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Every job dir of a sweep (a dir with .hydra/overrides.yaml), in job-number order."""
    found = {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}
    return sorted(found, key=lambda p: tuple(int(s) if s.isdigit() else s for s in p.parts))


def _parse_overrides(path: Path) -> dict[str, str]:
    result = {}
    for item in yaml.safe_load(path.read_text()) or []:
        key, _, value = str(item).partition("=")
        result[key.lstrip("+~")] = value
    return result


def _book(run_dir: Path) -> dict[str, float]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    book = (yaml.safe_load(path.read_text()) or {}).get("book") or {}
    return {str(k): float(v) for k, v in book.items() if isinstance(v, int | float)}


def load_jobs(sweep_dir: Path) -> list[Job]:
    if not sweep_dir.is_dir():
        raise DrlrunError(f"{sweep_dir} is not a directory; pass a multirun dir")
    jobs = []
    for job_dir in job_dirs(sweep_dir):
        overrides = _parse_overrides(job_dir / ".hydra" / "overrides.yaml")
        where = resolve_job_dir(job_dir)
        rows: list[dict[str, str]] = []
        if (where / "metrics.csv").exists():
            with (where / "metrics.csv").open(newline="") as f:
                rows = list(csv.DictReader(f))
        jobs.append(Job(where, overrides, read_summary(where), rows, _book(where)))
    if not jobs:
        raise DrlrunError(f"{sweep_dir} holds no job dirs (.hydra/overrides.yaml); is it a sweep?")
    return jobs


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs (seed, resume and hydra.* excluded)."""
    keys: dict[str, set[str]] = {}
    for job in jobs:
        for key in {*keys, *job.overrides}:
            keys.setdefault(key, set()).add(job.overrides.get(key, "<default>"))
    return sorted(
        k for k, values in keys.items() if len(values) > 1 and k.split(".")[0] not in NOT_GROUPING
    )
