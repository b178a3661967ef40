"""Evaluation curves of several run dirs in one figure, with an optional baseline line.

    python scripts/plot_eval_curves.py RUN_DIR... --out docs/figures/NAME.png
        [--baseline 21 --baseline-label always-UP] [--title TITLE] [--train]

Reads each run's metrics.csv (rows of kind eval/final: eval_return_mean and its std) and draws
mean +- std against agent steps, one line per run labelled by its seed (config.yaml).
`--train` also draws each run's training return (rows of kind train: return_mean), dashed.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from omegaconf import OmegaConf


def eval_rows(run: Path) -> tuple[list[float], list[float], list[float]]:
    frames, means, stds = [], [], []
    with (run / "metrics.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["kind"] in ("eval", "final") and row.get("eval_return_mean"):
                frames.append(float(row["frames"]))
                means.append(float(row["eval_return_mean"]))
                stds.append(float(row.get("eval_return_std") or 0.0))
    return frames, means, stds


def train_rows(run: Path) -> tuple[list[float], list[float]]:
    frames, returns = [], []
    with (run / "metrics.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["kind"] == "train" and row.get("return_mean"):
                frames.append(float(row["frames"]))
                returns.append(float(row["return_mean"]))
    return frames, returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--baseline", type=float)
    parser.add_argument("--baseline-label", default="baseline")
    parser.add_argument("--title", default="")
    parser.add_argument("--train", action="store_true", help="also the training return, dashed")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in args.runs:
        frames, means, stds = eval_rows(run)
        seed = OmegaConf.load(run / "config.yaml").get("seed", "?")
        line = ax.plot(frames, means, marker="o", label=f"seed {seed} (final {means[-1]:.1f})")
        low = [m - s for m, s in zip(means, stds, strict=True)]
        high = [m + s for m, s in zip(means, stds, strict=True)]
        ax.fill_between(frames, low, high, color=line[0].get_color(), alpha=0.15)
        if args.train:
            steps, returns = train_rows(run)
            ax.plot(steps, returns, linestyle=":", color=line[0].get_color(), alpha=0.8)
    if args.baseline is not None:
        ax.axhline(args.baseline, color="black", linestyle="--", label=args.baseline_label)
    ylabel = "eval return (mean +- std)" + ("; training return dotted" if args.train else "")
    ax.set(xlabel="agent steps", ylabel=ylabel, title=args.title)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
