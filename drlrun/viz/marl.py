"""Drawing helpers of the multi-agent runs (book ch. 9): Ising grid before/after, a battle's
minimap, curves (magnetisation, losses, per-team returns) and the order parameter of a
temperature sweep. They build matplotlib figures; the end-of-run probe (algos/marl/probes.py)
hands them to `Figures.save`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from drlrun.viz.probe import pyplot


def grids_figure(before: np.ndarray, after: np.ndarray, title: str) -> Any:
    """The grid before and after training side by side (book Figs. 9.14, 9.17, 9.21-9.22)."""
    plt = pyplot()
    wide = before.shape[0] == 1
    fig, axes = plt.subplots(2 if wide else 1, 1 if wide else 2, figsize=(8, 2.4 if wide else 4))
    for ax, img, name in zip(axes, (before, after), ("before", "after"), strict=True):
        ax.imshow(img, vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_title(f"{name}: {int(img.sum())}/{img.size} up")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_figure(image: np.ndarray, title: str) -> Any:
    """One RGB frame (a battle's minimap, book Fig. 9.24) with a title."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def curves_figure(series: dict[str, tuple[np.ndarray, np.ndarray]], ylabel: str) -> Any:
    """One line per (x, y) series against steps; empty series are left out."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (x, y) in series.items():
        if len(y):
            ax.plot(x, y, label=label, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if series:
        ax.legend()
    fig.tight_layout()
    return fig


def order_parameter(jobs: list[Any], key: str = "eval_magnetization") -> np.ndarray:
    """Rows (temperature, mean, std, runs) of `key` over the finished jobs of a
    `env.temperature=...` sweep, sorted by temperature (seeds of one temperature pooled)."""
    by_t: dict[float, list[float]] = {}
    for job in jobs:
        t = job.overrides.get("env.temperature")
        if t is None or not job.summary or key not in job.summary:
            continue
        by_t.setdefault(float(t), []).append(float(job.summary[key]))
    return np.array(
        [(t, np.mean(v), np.std(v), len(v)) for t, v in sorted(by_t.items())], dtype=float
    ).reshape(-1, 4)


def plot_order_parameter(rows: np.ndarray, path: Path) -> Path:
    """Magnetisation against temperature: the order/disorder transition of the learned spins."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(rows[:, 0], rows[:, 1], yerr=rows[:, 2], marker="o", capsize=3)
    ax.set_xlabel("Boltzmann temperature")
    ax.set_ylabel("order parameter |mean spin|")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
