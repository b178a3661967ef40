"""The fitness-per-generation figure shared by the evolutionary algorithms (book Figs. 6.6, 6.9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_fitness(history: np.ndarray, path: Path, title: str) -> Path:
    """history rows: (generation, mean, best, worst); writes a PNG with the three curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4))
    if len(history):
        gen = history[:, 0]
        ax.plot(gen, history[:, 2], label="best", color="tab:green")
        ax.plot(gen, history[:, 1], label="mean", color="tab:blue")
        ax.plot(gen, history[:, 3], label="worst", color="tab:red", alpha=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Generations")
    ax.set_ylabel("Fitness")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
