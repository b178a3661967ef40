"""Turn a chapter's sweeps into its committed record, and the records into docs/results.md.

A chapter's record is `docs/results/<chapter>.json` (per experiment and fidelity: the seeds'
values, frames, wall time and a thinned learning curve per seed) plus its figure
`docs/figures/results/<chapter>.png`. The run dirs are not committed, so results.md is rebuilt
from the records alone, and chapters measured in different sessions sit side by side.
"""

from __future__ import annotations

import json
import math
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from drlrun.device import cpu_name
from drlrun.reproduce.catalogue import CHAPTERS, EXPERIMENTS, Curve, Experiment
from drlrun.sweep.jobs import Job, load_jobs
from drlrun.sweep.stats import align_curves, t_band, t_interval

CURVE_POINTS = 60  # per seed, kept in the record


def metric_value(job: Job, key: str) -> float:
    """`key` from the job's summary.json, else its last value in metrics.csv (e.g. a training
    metric such as `loss` or `train_max_x_pos` that the final evaluation does not report)."""
    value = job.value(key)
    if math.isfinite(value):
        return value
    for row in reversed(job.rows):
        if row.get(key) not in (None, ""):
            return float(row[key])
    return math.nan


def running_mean(ys: list[float], window: int) -> list[float]:
    """Mean of the last `window` values at each point (fewer at the start)."""
    if window <= 1 or not ys:
        return ys
    sums = np.cumsum(np.insert(np.asarray(ys, dtype=float), 0, 0.0))
    idx = np.arange(1, len(ys) + 1)
    start = np.maximum(idx - window, 0)
    return ((sums[idx] - sums[start]) / (idx - start)).tolist()


def thin(xs: list[int], ys: list[float], points: int = CURVE_POINTS) -> tuple[list, list]:
    if len(xs) <= points:
        return xs, ys
    keep = np.unique(np.linspace(0, len(xs) - 1, points).round().astype(int))
    return [xs[i] for i in keep], [ys[i] for i in keep]


def measure(
    experiment: Experiment,
    fidelity: str,
    directory: Path,
    digest: str = "",
    seeds: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """One preset's sweep as a record entry (no jobs yet: an entry saying so), from the jobs
    of `seeds` (all when None: a job of another seed may be left from another config);
    `digest` is the composed config's (launch.config_digest), so a later record can tell
    whether it may keep these seeds."""
    preset = experiment.presets[fidelity]
    entry: dict[str, Any] = {"preset": preset, "config_digest": digest, "seeds": [], "values": []}
    if not directory.is_dir():
        return entry
    jobs = [j for j in load_jobs(directory) if seeds is None or int(j.seed) in seeds]
    finished = sorted((j for j in jobs if j.status == "finished"), key=lambda j: int(j.seed))
    curve = experiment.curve
    entry.update(
        seeds=[int(j.seed) for j in finished],
        values=[metric_value(j, experiment.metric) for j in finished],
        frames=[j.value("frames") for j in finished],
        wall_time_s=[j.value("wall_time_s") for j in finished],
        cpu_time_s=[j.value("cpu_time_s") for j in finished],  # nan: not kept by that run
        unfinished=sorted(f"seed {j.seed}: {j.status}" for j in jobs if j.status != "finished"),
        curves=[_curve(j, curve) for j in finished],
        machines=[_job_machine(j) for j in finished],
    )
    return entry


def _job_machine(job: Job) -> str:
    """The CPU the job ran on (summary.json's compute; runs before it was recorded there were
    measured where the record is written)."""
    return str(((job.summary or {}).get("compute") or {}).get("cpu") or cpu_name())


# entry lists parallel to `seeds`
PER_SEED = ("values", "frames", "wall_time_s", "cpu_time_s", "curves", "machines")


def recorded_seeds(entry: dict[str, Any] | None, digest: str) -> set[int]:
    """The seeds an old entry holds for the same composed config (none if it changed)."""
    if not entry or not digest or entry.get("config_digest") != digest:
        return set()
    return set(entry.get("seeds", []))


def merge_entry(old: dict[str, Any] | None, fresh: dict[str, Any]) -> dict[str, Any]:
    """`fresh` plus the seeds only `old` has, when both measured the same composed config: a
    seed finished in an earlier session (or on another machine) stays in the record after its
    run dir is gone. A seed in both takes the fresh measurement."""
    keep = recorded_seeds(old, fresh.get("config_digest", "")) - set(fresh["seeds"])
    if not keep:
        return fresh
    rows = {
        s: {k: fresh[k][i] for k in PER_SEED if k in fresh} for i, s in enumerate(fresh["seeds"])
    }
    for i, s in enumerate(old["seeds"]):
        if s in keep:
            rows[s] = {k: old[k][i] for k in PER_SEED if k in old}
    merged = dict(fresh, seeds=sorted(rows))
    for key in PER_SEED:
        merged[key] = [rows[s].get(key) for s in merged["seeds"]]
    return merged


def _curve(job: Job, curve: Curve) -> list[list]:
    xs, ys = job.curve(curve.column, curve.kinds)
    if curve.cummax and ys:
        ys = np.maximum.accumulate(ys).tolist()
    return list(thin(xs, running_mean(ys, curve.smooth)))


def summarize(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    low, high = t_interval(finite)
    return {"mean": float(np.mean(finite)) if finite else math.nan, "low": low, "high": high}


def git_commit() -> str:
    """The short commit of the drlrun checkout that ran (\'unknown\' for an installed copy)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def chapter_record(
    chapter: str,
    sweeps: dict[str, dict[str, Path]],
    digests: dict[str, dict[str, str]] | None = None,
    seeds: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """The record of `chapter` from its sweep dirs: sweeps[experiment key][fidelity] -> dir,
    digests[key][fidelity] -> the composed config's digest, the jobs of `seeds` only."""
    digests = digests or {}
    experiments = []
    for experiment in (e for e in EXPERIMENTS if e.chapter == chapter):
        if experiment.key not in sweeps:
            continue
        entries = {
            f: measure(experiment, f, d, digests.get(experiment.key, {}).get(f, ""), seeds)
            for f, d in sweeps[experiment.key].items()
        }
        experiments.append({"key": experiment.key, "fidelities": entries})
    return {
        "chapter": chapter,
        "date": date.today().isoformat(),
        "commit": git_commit(),
        "machine": cpu_name(),  # the machine that wrote the record; each seed names its own
        "experiments": experiments,
    }


def write_record(record: dict[str, Any], docs: Path) -> Path:
    path = docs / "results" / f"{record['chapter']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, allow_nan=True) + "\n")
    return path


def read_records(docs: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for chapter in CHAPTERS:
        path = docs / "results" / f"{chapter}.json"
        if path.exists():
            found[chapter] = _with_machines(json.loads(path.read_text()))
    return found


def _with_machines(record: dict[str, Any]) -> dict[str, Any]:
    """A record written before entries named each seed's machine: its seeds ran on the machine
    that wrote it."""
    for item in record.get("experiments", []):
        for entry in item["fidelities"].values():
            if "machines" not in entry:
                entry["machines"] = [record.get("machine", "unknown")] * len(entry["seeds"])
    return record


def chapter_machines(record: dict[str, Any]) -> str:
    """Which machines the chapter's runs were measured on, and (when several) for what."""
    where: dict[str, list[str]] = {}
    for item in record["experiments"]:
        for fidelity, entry in item["fidelities"].items():
            for m in dict.fromkeys(entry.get("machines") or []):
                where.setdefault(m or "unknown", []).append(f"{item['key']} {fidelity}")
    if len(where) <= 1:
        return next(iter(where), record.get("machine", "unknown"))
    return "; ".join(f"{m} ({', '.join(runs)})" for m, runs in where.items())


def plot_chapter(record: dict[str, Any], docs: Path) -> Path | None:
    """One panel per experiment: each fidelity's mean curve with a 95% Student-t band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {e.key: e for e in EXPERIMENTS if e.chapter == record["chapter"]}
    panels = [
        e for e in record["experiments"] if any(f.get("curves") for f in e["fidelities"].values())
    ]
    if not panels:
        return None
    width = max(4.6 * len(panels), 7.0)  # room for the suptitle with one panel
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.6), squeeze=False)
    for ax, item in zip(axes[0], panels, strict=True):
        experiment = by_key[item["key"]]
        for fidelity, entry in item["fidelities"].items():
            curves = [(x, y) for x, y in entry.get("curves", []) if x]
            if not curves:
                continue
            grid, ys = align_curves(curves)
            (line,) = ax.plot(grid, ys.mean(axis=0), label=f"{fidelity} (n={len(curves)})")
            if len(curves) > 1:
                low, high = t_band(ys)
                ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(experiment.title, fontsize="small")
        ax.set_xlabel("frames (agent steps / images / individuals)", fontsize="x-small")
        ax.set_ylabel(experiment.curve.label or experiment.curve.column, fontsize="small")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle(f"{record['chapter']}: {CHAPTERS[record['chapter']]} (mean, 95% t band)")
    fig.tight_layout()
    path = docs / "figures" / "results" / f"{record['chapter']}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry or not entry.get("values"):
        missing = (entry or {}).get("unfinished")
        return f"not run{' (' + '; '.join(missing) + ')' if missing else ''}"
    s = summarize(entry["values"])
    values = ", ".join(_num(v) for v in entry["values"])
    interval = f" [{_num(s['low'])}, {_num(s['high'])}]" if math.isfinite(s["low"]) else ""
    text = f"**{_num(s['mean'])}**{interval} ({values}; seeds {_seeds(entry['seeds'])})"
    if entry.get("unfinished"):
        text += f"; unfinished: {'; '.join(entry['unfinished'])}"
    return text


def _seeds(seeds: list[int]) -> str:
    return ",".join(str(s) for s in seeds)


def cpu_hours(records: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Per chapter, the hours of compute its finished jobs used: each job's process CPU time,
    or its wall time (1 thread each) where the run did not keep CPU time. Jobs that shared a
    core ran longer than they computed, so CPU time is the figure to trust."""
    hours = {}
    for chapter, record in records.items():
        seconds = 0.0
        for item in record["experiments"]:
            for entry in item["fidelities"].values():
                walls = entry.get("wall_time_s", [])
                cpus = entry.get("cpu_time_s") or [None] * len(walls)
                for wall, cpu in zip(walls, cpus, strict=False):
                    seconds += _finite(cpu, _finite(wall, 0.0))
        hours[chapter] = seconds / 3600
    return hours


def _finite(value: float | None, default: float) -> float:
    return value if value is not None and math.isfinite(value) else default


def results_markdown(records: dict[str, dict[str, Any]]) -> str:
    """docs/results.md: per chapter the book's number beside the book and fixed presets'."""
    by_name = {e.name: e for e in EXPERIMENTS}
    hours = cpu_hours(records)
    lines = [
        "# Reproduction results",
        "",
        'Written by `drlrun-repro` (see README, "Reproducing the book"): every chapter\'s `book`',
        "and `fixed` presets, each on the seeds listed, through `drlrun --multirun`. A cell is",
        "the mean with its 95% Student-t interval, then the values and seeds. Frames and wall",
        "time are per-run means; wall time is on one CPU thread of the machine named per chapter.",
        "CPU-hours add up each job's process CPU time (its wall time where the run kept none):",
        "jobs that shared a core took longer than they computed.",
        "",
    ]
    missing = [c for c in CHAPTERS if c not in records]
    if missing:
        lines += [f"Not yet measured: {', '.join(missing)} (`drlrun-repro --chapters ...`).", ""]
    for chapter, record in records.items():
        lines += [
            f"## {chapter}: {CHAPTERS[chapter]}",
            "",
            f"Record last written {record['date']} at {record['commit']}; runs on "
            f"{chapter_machines(record)}; {hours[chapter]:.2f} CPU-hours in all.",
            "",
            "| experiment | metric | book | book preset | fixed preset | frames (book / fixed) "
            "| wall time (book / fixed) |",
            "|---|---|---|---|---|---|---|",
        ]
        for item in record["experiments"]:
            experiment = by_name[f"{chapter}/{item['key']}"]
            entries = item["fidelities"]
            lines.append(
                f"| {experiment.title} | `{experiment.metric}` | {_num(experiment.book_value)} | "
                + " | ".join(
                    _cell(entries.get(f)) if f in experiment.presets else "n/a"
                    for f in ("book", "fixed")
                )
                + f" | {_per_fidelity(entries, list(experiment.presets), 'frames', _frames)} | "
                f"{_per_fidelity(entries, list(experiment.presets), 'wall_time_s', _wall)} |"
            )
        lines += ["", "Sources of the book's numbers:", ""]
        for item in record["experiments"]:
            experiment = by_name[f"{chapter}/{item['key']}"]
            presets = ", ".join(f"`{p}`" for p in experiment.presets.values())
            if experiment.overrides:  # what the experiment sets on top of its presets
                presets += " with `" + " ".join(experiment.overrides) + "`"
            lines.append(f"- {experiment.title} ({presets}): {experiment.source}.")
        figure = Path("figures") / "results" / f"{chapter}.png"
        lines += ["", f"![{chapter} learning curves]({figure})", ""]
    total = sum(hours.values())
    lines += [f"Total: {total:.2f} CPU-hours over the chapters measured.", ""]
    return "\n".join(lines)


def _wall(seconds: list[float]) -> str:
    finite = [s for s in seconds if math.isfinite(s)]
    if not finite:
        return "-"
    mean = float(np.mean(finite))
    return f"{mean / 60:.1f} min" if mean >= 60 else f"{mean:.0f} s"


def _frames(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{np.mean(finite):,.0f}" if finite else "-"


def _per_fidelity(entries: dict[str, Any], fidelities: list[str], key: str, fmt) -> str:
    """`fmt` of `key` per fidelity the experiment has, '-' for one not measured yet."""
    return " / ".join(fmt(entries.get(f, {}).get(key, [])) for f in fidelities)
