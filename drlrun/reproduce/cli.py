"""`drlrun-repro`: reproduce the book's chapters on several seeds and write docs/results.md.

    drlrun-repro --chapters ch6 ch9                # run (or continue) them, then write the docs
    drlrun-repro --chapters ch10 --mnist-root ../shared/data/mnist --jobs 2
    drlrun-repro --launcher slurm hydra.launcher.partition=cpu   # every preset as a SLURM array
    drlrun-repro --report-only                     # rebuild docs/results.md from the records
    drlrun-repro --list                            # what would run, and the commands

Every (experiment, fidelity) is one `drlrun --multirun +experiment=PRESET seed=0,1,2
resume=true` into `<root>/<chapter>/<PRESET>/`: rerunning the command skips finished seeds and
continues interrupted ones from their checkpoints. After each chapter its record
(docs/results/<chapter>.json) and figure (docs/figures/results/<chapter>.png) are written and
docs/results.md is rebuilt from every chapter's record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drlrun.errors import DrlrunError
from drlrun.reproduce.catalogue import CHAPTERS, EXPERIMENTS, Experiment, select
from drlrun.reproduce.launch import (
    LAUNCHERS,
    LaunchOptions,
    check_sweep_dir,
    command,
    config_digest,
    launch,
    sweep_dir,
)
from drlrun.reproduce.results import (
    chapter_record,
    merge_entry,
    plot_chapter,
    read_records,
    recorded_seeds,
    results_markdown,
    write_record,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drlrun-repro",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    p.add_argument("--chapters", nargs="+", metavar="CH", help=f"of {', '.join(CHAPTERS)}")
    p.add_argument("--only", nargs="+", metavar="EXP", help="experiments, e.g. ch6/string_ga")
    p.add_argument("--fidelity", nargs="+", default=["book", "fixed"], choices=["book", "fixed"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--root", type=Path, default=Path("multirun/repro"), help="sweep dirs")
    p.add_argument("--launcher", default="joblib", choices=LAUNCHERS)
    p.add_argument("--jobs", type=int, default=1, help="joblib: runs at a time (default 1)")
    p.add_argument("--mnist-root", help="dir of the MNIST IDX files (ch10 MNIST)")
    p.add_argument("--docs", type=Path, default=Path("docs"), help="where results.md goes")
    p.add_argument("--report-only", action="store_true", help="write the docs, run nothing")
    p.add_argument("--list", action="store_true", help="print the experiments and commands")
    p.add_argument("overrides", nargs="*", help="Hydra overrides added to every job")
    return p


def chosen(args: argparse.Namespace) -> list[Experiment]:
    unknown = sorted(set(args.chapters or []) - set(CHAPTERS))
    if unknown:
        raise DrlrunError(
            f"unknown chapter {', '.join(unknown)}; choose from {', '.join(CHAPTERS)}"
        )
    names = {e.name for e in EXPERIMENTS} | {e.key for e in EXPERIMENTS}
    bad = sorted(set(args.only or []) - names)
    if bad:
        raise DrlrunError(
            f"unknown experiment {', '.join(bad)}; choose from "
            f"{', '.join(e.name for e in EXPERIMENTS)}"
        )
    experiments = select(args.chapters, args.only)
    downloads = any(o.replace("+", "") == "data.download=true" for o in args.overrides)
    needs = [e.name for e in experiments if e.needs_mnist]
    if needs and not args.mnist_root and not downloads and not args.report_only:
        raise DrlrunError(
            f"{', '.join(needs)} need the MNIST files: pass --mnist-root DIR (IDX files, e.g. "
            "../shared/data/mnist) or data.download=true, or leave them out with --only"
        )
    return experiments


def old_entry(record: dict, experiment: Experiment, fidelity: str) -> dict | None:
    """The committed chapter record's entry for (experiment, fidelity), if any."""
    for item in record.get("experiments", []):
        if item["key"] == experiment.key:
            return item["fidelities"].get(fidelity)
    return None


def run_chapter(chapter: str, experiments: list[Experiment], args, options) -> int:
    """Launch the chapter's sweeps (the seeds its record lacks), then write its record and
    figure; the worst exit code."""
    worst = 0
    digests: dict[str, dict[str, str]] = {}
    old = read_records(args.docs).get(chapter) or {}
    for experiment in experiments:
        for fidelity in args.fidelity:
            if fidelity not in experiment.presets:
                continue
            preset = experiment.presets[fidelity]
            digest = config_digest(options, experiment, preset)
            digests.setdefault(experiment.key, {})[fidelity] = digest
            recorded = recorded_seeds(old_entry(old, experiment, fidelity), digest)
            have = f" (recorded already: seeds {sorted(recorded)})" if recorded else ""
            print(f"drlrun-repro: {experiment.name} {fidelity}: {preset}{have}", flush=True)
            worst = max(worst, launch(options, experiment, preset, recorded))
    update_record(chapter, experiments, args, options, digests)
    return worst


def update_record(
    chapter: str, experiments: list[Experiment], args, options, digests: dict[str, dict[str, str]]
) -> None:
    """Re-measure this chapter's experiments from their sweep dirs, keeping the record's other
    entries (an experiment not run this time stays as it was measured before) and, for the
    same composed config, the seeds measured before whose run dirs are gone."""
    sweeps = {
        e.key: {f: sweep_dir(options, e, p) for f, p in e.presets.items() if f in args.fidelity}
        for e in experiments
    }
    sweeps = {k: {f: d for f, d in v.items() if d.is_dir()} for k, v in sweeps.items()}
    sweeps = {k: v for k, v in sweeps.items() if v}
    if not sweeps:
        return
    fresh = chapter_record(chapter, sweeps, digests, options.seeds)
    old = read_records(args.docs).get(chapter)
    if old:
        kept = {item["key"]: item for item in old["experiments"]}
        for item in fresh["experiments"]:
            kept.setdefault(item["key"], {"key": item["key"], "fidelities": {}})
            fidelities = kept[item["key"]]["fidelities"]
            for fidelity, entry in item["fidelities"].items():
                fidelities[fidelity] = merge_entry(fidelities.get(fidelity), entry)
        order = [e.key for e in EXPERIMENTS if e.key in kept]
        fresh["experiments"] = [kept[k] for k in order]
    path = write_record(fresh, args.docs)
    figure = plot_chapter(fresh, args.docs)
    print(f"drlrun-repro: wrote {path}" + (f" and {figure}" if figure else ""), flush=True)


def write_results(docs: Path) -> Path:
    path = docs / "results.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(results_markdown(read_records(docs)))
    return path


def main(argv: list[str] | None = None) -> None:
    """Console script `drlrun-repro`."""
    args = parser().parse_args(argv)
    try:
        experiments = chosen(args)
        options = LaunchOptions(
            root=args.root,
            seeds=tuple(args.seeds),
            launcher=args.launcher,
            jobs=args.jobs,
            mnist_root=args.mnist_root,
            overrides=tuple(args.overrides),
        )
        if args.list:
            for e in experiments:
                for fidelity, preset in e.presets.items():
                    if fidelity in args.fidelity:
                        line = " ".join(command(options, e, preset)[3:])
                        print(f"{e.name} [{fidelity}] drlrun {line}")
            return
        worst = 0
        if not args.report_only:
            for e in experiments:  # every sweep dir is checked before any job runs
                for fidelity, preset in e.presets.items():
                    if fidelity in args.fidelity:
                        check_sweep_dir(options, e, preset)
            for chapter in dict.fromkeys(e.chapter for e in experiments):
                mine = [e for e in experiments if e.chapter == chapter]
                worst = max(worst, run_chapter(chapter, mine, args, options))
                write_results(args.docs)  # after each chapter: a stopped run keeps the rest
        path = write_results(args.docs)
    except (DrlrunError, json.JSONDecodeError) as err:
        print(f"drlrun-repro: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"drlrun-repro: wrote {path}")
    sys.exit(1 if worst else 0)


if __name__ == "__main__":
    main()
