"""Evaluation curves of several run dirs in one figure, with an optional baseline line.

    python scripts/plot_eval_curves.py RUN_DIR... --out docs/figures/NAME.png
        [--baseline 21 --baseline-label always-UP] [--title TITLE]

Reads each run's metrics.csv (rows of kind eval/final: eval_return_mean and its std) and draws
mean +- std against agent steps, one line per run labelled by its seed (config.yaml).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--baseline", type=float)
    parser.add_argument("--baseline-label", default="baseline")
    parser.add_argument("--title", default="")
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
    if args.baseline is not None:
        ax.axhline(args.baseline, color="black", linestyle="--", label=args.baseline_label)
    ax.set(xlabel="agent steps", ylabel="eval return (mean +- std)", title=args.title)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
