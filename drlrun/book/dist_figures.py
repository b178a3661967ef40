"""The `book_distributions` probe: what the book's chapter 7 Dist-DQN (`algo=dist_book`) shows.

At the end of a run, plots/distributions.png (predicted Z(s, a) per action, Figs. 7.19, 7.22),
plots/prediction_vs_target.png (sample 0's flattened vectors, Figs. 7.17, 7.18) and
plots/loss.png (Figs. 7.18, 7.20), for the synthetic states or four Freeway replay entries;
through the run's `Figures` (PNG in the run dir, the same image in TensorBoard as
`plots/<name>`). On eval videos, each action's distribution beside the Freeway frame (Fig. 7.21).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drlrun.registry import register
from drlrun.viz.distributions import (
    action_names,
    distribution_grid,
    loss_curve,
    prediction_vs_target,
)
from drlrun.viz.panels import attach_panel, distribution_panel
from drlrun.viz.probe import Figures, FrameView, Probe


class BookDistributions(Probe):
    """Figures and the per-frame panel of a `BookDistDQN` (drlrun/book/dist_dqn.py)."""

    def __init__(self, algo: Any):
        self.algo = algo
        self._names: list[str] | None = None

    def names(self) -> list[str]:
        """The env's action meanings (Freeway: NOOP, UP, DOWN), looked up once."""
        if self._names is None:
            algo = self.algo
            self._names = action_names(algo.env_factory, algo.actions)
        return self._names

    def figures(self, out: Figures) -> None:
        algo = self.algo
        support = algo.support.numpy()
        if algo.p.task == "synthetic":
            states = next_states = algo.states
            actions = torch.tensor(algo.p.synthetic_actions)
            rewards = torch.tensor(algo.p.synthetic_rewards)
            dones = torch.zeros(len(actions), dtype=torch.bool)
            names = [f"a{i}" for i in range(algo.actions)]
        else:
            if not algo.replay:
                return
            batch = algo.replay[:4]
            states = algo.preprocess(np.stack([e[0] for e in batch]))
            next_states = algo.preprocess(np.stack([e[3] for e in batch]))
            actions = torch.tensor([e[1] for e in batch])
            rewards = torch.tensor([e[2] for e in batch], dtype=torch.float32)
            dones = torch.tensor([e[4] for e in batch])
            names = self.names()
        with torch.no_grad():
            pred = algo.forward(states)
            next_probs = algo.forward(next_states, algo.theta_target)
            target, _ = algo.target(next_probs, actions, rewards, dones)
        out.save(
            distribution_grid(pred.numpy(), support, names, "predicted Z(s, a)"),
            "plots/distributions",
        )
        out.save(
            prediction_vs_target(
                pred[0].numpy(), target[0].numpy(), "sample 0: prediction vs target"
            ),
            "plots/prediction_vs_target",
        )
        if algo.losses:
            out.save(loss_curve(algo.losses), "plots/loss")

    def frame(self, frame: np.ndarray, view: FrameView) -> np.ndarray:
        """The book's figure 7.21: each action's distribution beside the Freeway frame."""
        algo = self.algo
        if algo.p.task == "synthetic":
            return frame
        with torch.no_grad():
            probs = algo.forward(algo.preprocess(view.obs))[0].numpy()
        panel = distribution_panel(
            algo.support.numpy(), probs, self.names(), frame.shape[0], title="Z(s, a)"
        )
        return attach_panel(frame, panel)


@register("probe", "book_distributions")
def build_book_distributions(algo: Any) -> BookDistributions | None:
    """For the book's flat-vector Dist-DQN; None for other learners."""
    from drlrun.book.dist_dqn import BookDistDQN

    return BookDistributions(algo) if isinstance(algo, BookDistDQN) else None
