"""The multi-agent family's end-of-run figures as a probe (drlrun.viz.probe): the Ising grid
before/after (`ising_grid.png`) or a battle's starting minimap (`battle_start.png`), the
magnetisation curve (`magnetization.png`), per-team losses (`loss.png`) and per-team battle
returns (`team_returns.png`); each also goes to TensorBoard through the run's logger."""

from __future__ import annotations

from typing import Any

import numpy as np

from drlrun.registry import register
from drlrun.viz.marl import curves_figure, grids_figure, image_figure
from drlrun.viz.probe import Figures, Probe


class MarlFigures(Probe):
    """Every figure that applies to the run's game (a `MultiAgentQ`'s history and env)."""

    def __init__(self, algo: Any):
        self.algo = algo

    def figures(self, out: Figures) -> None:
        algo, env = self.algo, self.algo.env
        if algo.initial_image is not None and hasattr(env, "image"):
            out.save(grids_figure(algo.initial_image, env.image(), "spins"), "ising_grid")
        elif algo.initial_image is not None:
            title = "initial positions (red: team 0, blue: team 1)"
            out.save(image_figure(algo.initial_image, title), "battle_start")
        h = algo.history
        if h["magnetization"]:
            series = {"magnetization": (np.asarray(h["frame"]), np.asarray(h["magnetization"]))}
            out.save(curves_figure(series, "|mean spin|"), "magnetization")
        losses = _per_team(algo.team_losses)
        if any(len(y) for _, y in losses.values()):
            out.save(curves_figure(losses, "loss (per update)"), "loss")
        if len(algo.team_returns) > 1 and any(algo.team_returns):
            rets = _per_team(algo.team_returns)
            out.save(curves_figure(rets, "mean agent return per battle"), "team_returns")


def _per_team(values: list[list[float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {f"team {i}": (np.arange(len(v)), np.asarray(v)) for i, v in enumerate(values)}


@register("probe", "marl_figures")
def build_marl_figures(algo: Any) -> Probe:
    return MarlFigures(algo)
