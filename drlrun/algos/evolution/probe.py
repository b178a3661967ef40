"""The fitness-per-generation figure shared by the evolutionary algorithms (book Figs. 6.6, 6.9):
the `fitness` probe, which GA and ES list, writes `<run_dir>/fitness.png`."""

from __future__ import annotations

from typing import Any

import numpy as np

from drlrun.algos.evolution.common import Evolution
from drlrun.registry import register
from drlrun.viz.probe import Figures, Probe, pyplot


def fitness_figure(history: np.ndarray, title: str) -> Any:
    """history rows: (generation, mean, best, worst); a figure with the three curves."""
    plt = pyplot()
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
    return fig


class FitnessProbe(Probe):
    def __init__(self, algo: Evolution):
        self.algo = algo

    def figures(self, out: Figures) -> None:
        out.save(fitness_figure(self.algo.history, self.algo.fitness_title()), "fitness")


@register("probe", "fitness")
def build_fitness_probe(algo: Any) -> FitnessProbe | None:
    """Mean/best/worst fitness per generation; nothing for a learner without generations."""
    return FitnessProbe(algo) if isinstance(algo, Evolution) else None
