"""Figures of the multi-agent runs (book ch. 9): Ising grid before/after, magnetisation and loss
curves, per-team battle returns and losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_grids(before: np.ndarray, after: np.ndarray, path: Path, title: str) -> Path:
    """The grid before and after training side by side (book Figs. 9.14, 9.17, 9.21-9.22)."""
    plt = _plt()
    wide = before.shape[0] == 1
    fig, axes = plt.subplots(2 if wide else 1, 1 if wide else 2, figsize=(8, 2.4 if wide else 4))
    for ax, img, name in zip(axes, (before, after), ("before", "after"), strict=True):
        ax.imshow(img, vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_title(f"{name}: {int(img.sum())}/{img.size} up")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(series: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, ylabel: str) -> Path:
    plt = _plt()
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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_marl(algo: Any, run_dir: Path) -> list[Path]:
    """Every figure that applies to this run's game."""
    out: list[Path] = []
    env = algo.env
    if algo.initial_image is not None and hasattr(env, "image"):
        out.append(plot_grids(algo.initial_image, env.image(), run_dir / "ising_grid.png", "spins"))
    elif algo.initial_image is not None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(algo.initial_image, interpolation="nearest")
        ax.set_title("initial positions (red: team 0, blue: team 1)")
        ax.set_axis_off()
        fig.tight_layout()
        fig.savefig(run_dir / "battle_start.png", dpi=100)
        plt.close(fig)
        out.append(run_dir / "battle_start.png")
    h = algo.history
    if h["magnetization"]:
        x = np.asarray(h["frame"])
        out.append(
            plot_curves(
                {"magnetization": (x, np.asarray(h["magnetization"]))},
                run_dir / "magnetization.png",
                "|mean spin|",
            )
        )
    losses = {
        f"team {i}": (np.arange(len(v)), np.asarray(v)) for i, v in enumerate(algo.team_losses)
    }
    if any(len(v[1]) for v in losses.values()):
        out.append(plot_curves(losses, run_dir / "loss.png", "loss (per update)"))
    if len(algo.team_returns) > 1 and any(algo.team_returns):
        rets = {
            f"team {i}": (np.arange(len(v)), np.asarray(v)) for i, v in enumerate(algo.team_returns)
        }
        out.append(plot_curves(rets, run_dir / "team_returns.png", "mean agent return per battle"))
    return out


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
    plt = _plt()
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
