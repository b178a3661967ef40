"""What GA and ES share: one generation per `train_step`, env-step and generation counters, and
a fitness history (one row per generation) that the `fitness` probe draws."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from drlrun.algos.base import Algorithm


class Evolution(Algorithm):
    """A population-based learner: `generation` counts train steps, `frames` env steps, and
    `history` holds one (generation, mean, best, worst) fitness row per generation."""

    def __init__(self) -> None:
        self.generation = 0
        self.frames = 0
        self.history = np.zeros((0, 4))

    def record(self, generation: int, fitness: np.ndarray) -> dict[str, float]:
        """Append generation `generation`'s fitness row; returns its metrics."""
        row = [generation, fitness.mean(), fitness.max(), fitness.min()]
        self.history = np.vstack([self.history, row])
        return {
            "generation": float(generation),
            "fitness_mean": float(row[1]),
            "fitness_best": float(row[2]),
            "fitness_worst": float(row[3]),
        }

    @abstractmethod
    def fitness_title(self) -> str:
        """The title of the fitness figure."""

    def probes(self) -> list[str]:
        return ["fitness"]

    def counters_state(self) -> dict[str, Any]:
        return {"generation": self.generation, "frames": self.frames, "history": self.history}

    def load_counters(self, state: dict[str, Any]) -> None:
        self.generation = int(state["generation"])
        self.frames = int(state["frames"])
        self.history = np.asarray(state["history"], dtype=np.float64).reshape(-1, 4)
