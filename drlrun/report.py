"""`drlrun-report <multirun_dir> [metric=eval_return_mean] [out=DIR] [curve=eval_return_mean]`.

Groups a sweep's jobs by the swept overrides (every key whose value differs between jobs, seed
excluded), and prints per group: finished seeds, mean, std, 95% bootstrap CI of the mean and IQM
of `metric` from each job's summary.json, mean frames, wall time and SPS, and failed or
unfinished jobs; the numbers a book preset reports (its `book:` key) appear beside the
measured means. Writes report.md, report.csv and curves.png (per-group mean learning curve with a
95% bootstrap band across seeds, from metrics.csv) to `out` (default <multirun_dir>/report).
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from drlrun.errors import DrlrunError
from drlrun.params import from_cfg
from drlrun.sweep.jobs import Job, load_jobs, swept_keys
from drlrun.sweep.stats import align_curves, bootstrap_band, bootstrap_ci, iqm, std


@dataclass
class ReportArgs:
    metric: str = "eval_return_mean"
    curve: str = "eval_return_mean"
    out: str | None = None


@dataclass
class GroupRow:
    label: str
    jobs: list[Job]
    metric: str
    failed: list[Job] = field(init=False)
    finished: list[Job] = field(init=False)

    def __post_init__(self) -> None:
        self.finished = [j for j in self.jobs if j.status == "finished"]
        self.failed = [j for j in self.jobs if j.status != "finished"]

    def values(self) -> np.ndarray:
        v = np.array([j.value(self.metric) for j in self.finished], dtype=float)
        return v[np.isfinite(v)]

    def stats(self) -> dict[str, float | int | str]:
        v = self.values()
        low, high = bootstrap_ci(v)

        def avg(key: str) -> float:
            x = np.array([j.value(key) for j in self.finished], dtype=float)
            x = x[np.isfinite(x)]
            return float(x.mean()) if x.size else math.nan

        return {
            "group": self.label,
            "seeds": int(v.size),
            "mean": float(v.mean()) if v.size else math.nan,
            "std": std(v),
            "ci95_low": low,
            "ci95_high": high,
            "iqm": iqm(v),
            "frames": avg("frames"),
            "wall_time_s": avg("wall_time_s"),
            "sps": avg("sps"),
            "failed": len(self.failed),
            "book": self.jobs[0].book.get(self.metric, math.nan),
        }

    def book_rows(self) -> list[tuple[str, float, float]]:
        """(key, book's number, measured mean) for every number the preset reports."""
        out = []
        for key, reported in sorted(self.jobs[0].book.items()):
            x = np.array([j.value(key) for j in self.finished], dtype=float)
            x = x[np.isfinite(x)]
            out.append((key, reported, float(x.mean()) if x.size else math.nan))
        return out


def group_jobs(jobs: list[Job], metric: str) -> tuple[list[str], list[GroupRow]]:
    """Groups in first-seen order, keyed by the swept overrides."""
    keys = swept_keys(jobs)
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        label = " ".join(f"{k}={job.overrides.get(k, '<default>')}" for k in keys) or "all"
        groups.setdefault(label, []).append(job)
    return keys, [GroupRow(label, members, metric) for label, members in groups.items()]


COLUMNS = ["group", "seeds", "mean", "std", "ci95_low", "ci95_high", "iqm", "frames"]
COLUMNS += ["wall_time_s", "sps", "failed"]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def markdown(rows: list[dict], metric: str, failures: list[Job], groups: list[GroupRow]) -> str:
    lines = [
        f"# Sweep report: {metric}",
        "",
        "mean, std (ddof=1), 95% percentile-bootstrap CI of the mean and IQM across the finished "
        "seeds of each group; frames, wall time and SPS are per-job means.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    book = [(g.label, *row) for g in groups for row in g.book_rows()]
    if book:
        lines += ["", "## Against the book's reported numbers", ""]
        lines += ["| group | key | book | measured mean |", "|---|---|---|---|"]
        lines += [f"| {g} | {k} | {_fmt(b)} | {_fmt(m)} |" for g, k, b, m in book]
    if failures:
        lines += ["", "## Failed or unfinished jobs", ""]
        for job in failures:
            error = (job.summary or {}).get("error", "")
            where = " ".join(f"{k}={v}" for k, v in job.overrides.items())
            lines.append(f"- `{job.dir}` [{where}] ({job.status}) {error}".rstrip())
    return "\n".join(lines) + "\n"


def console_table(rows: list[dict]) -> str:
    table = [COLUMNS] + [[_fmt(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table
    )


def plot_curves(groups: list[GroupRow], column: str, path: Path) -> Path | None:
    """Per-group mean curve of `column` (eval/final rows) with a 95% bootstrap band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = False
    for group in groups:
        curves = [j.curve(column, ("eval", "final")) for j in group.finished]
        curves = [(x, y) for x, y in curves if x]
        if not curves:
            continue
        grid, ys = align_curves(curves)
        mean = ys.mean(axis=0)
        (line,) = ax.plot(grid, mean, label=f"{group.label} (n={len(curves)})")
        if len(curves) > 1:
            low, high = bootstrap_band(ys)
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("frames")
    ax.set_ylabel(column)
    ax.set_title(f"{column}: mean and 95% bootstrap CI across seeds")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_report(sweep_dir: Path, args: ReportArgs) -> dict:
    """Compute the table and write report.md, report.csv and curves.png; returns what it wrote."""
    jobs = load_jobs(sweep_dir)
    keys, groups = group_jobs(jobs, args.metric)
    rows = [g.stats() for g in groups]
    out = Path(args.out) if args.out else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    failures = [j for g in groups for j in g.failed]
    (out / "report.md").write_text(markdown(rows, args.metric, failures, groups))
    with (out / "report.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*COLUMNS, "book"])
        writer.writeheader()
        writer.writerows(rows)
    png = plot_curves(groups, args.curve, out / "curves.png")
    return {"keys": keys, "rows": rows, "failures": failures, "out": out, "png": png}


def parse(argv: list[str]) -> tuple[Path, ReportArgs]:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    for item in argv[1:]:
        if "=" not in item:
            raise DrlrunError(f"arguments are key=value, got {item!r}")
    return Path(argv[0]), from_cfg(ReportArgs, OmegaConf.from_dotlist(argv[1:]), "drlrun-report")


def main() -> None:
    """Console script `drlrun-report`."""
    try:
        sweep_dir, args = parse(sys.argv[1:])
        result = build_report(sweep_dir, args)
    except DrlrunError as err:
        print(f"drlrun-report: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    print(f"{sweep_dir}: {len(result['rows'])} groups by {', '.join(result['keys']) or '-'}")
    print(console_table(result["rows"]))
    for job in result["failures"]:
        error = (job.summary or {}).get("error", "")
        print(f"failed: {job.dir} [seed={job.seed}] ({job.status}) {error}")
    print(f"wrote {result['out'] / 'report.md'}, {result['out'] / 'report.csv'}", end="")
    print(f", {result['png']}" if result["png"] else " (no learning curves: no eval rows)")


if __name__ == "__main__":
    main()
