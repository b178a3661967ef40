"""The `sequence` probe: figures for sequence torsos over one greedy episode (memory read/write
weights, attention over the window)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drlrun.registry import register
from drlrun.viz.probe import Figures, Probe, pyplot


def heatmap(matrix: np.ndarray, title: str, xlabel: str, ylabel: str) -> Any:
    """One heatmap (rows x columns) with a colour bar."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * cols + 2), max(3.0, 0.3 * rows + 1.5)))
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def record_episode(learner: Any, seed: int = 0, max_steps: int = 200) -> dict[str, np.ndarray]:
    """Play one greedy eval episode, collecting per-step read/write weights or attention."""
    actor = learner.actor
    torso = actor.torso
    env = learner.env_factory.make_eval()
    reads, writes, attention = [], [], []
    try:
        obs, _ = env.reset(seed=seed)
        state = torso.initial_state(1, learner.device)
        torso.record = True
        for _ in range(max_steps):
            torso.read_weights, torso.write_weights = [], []
            q, state = actor.step_q(obs, state)
            reads += [w[0].cpu().numpy() for w in getattr(torso, "read_weights", [])]
            writes += [w[0].cpu().numpy() for w in getattr(torso, "write_weights", [])]
            if hasattr(torso, "last_attention"):
                attention.append(torso.last_attention()[0].mean(0).cpu().numpy())
            step = env.step_all(q.argmax(dim=1).cpu().numpy())
            obs = step.obs
            if step.episodes:
                break
    finally:
        torso.record = False
        env.close()
    return {
        k: np.array(v) for k, v in (("read", reads), ("write", writes), ("attention", attention))
    }


class SequenceFigures(Probe):
    """memory_read.png / memory_write.png (slots over steps), attention.png (window over steps)."""

    def __init__(self, learner: Any):
        self.learner = learner

    def figures(self, out: Figures) -> None:
        with torch.inference_mode():
            rec = record_episode(self.learner)
        if rec["read"].size:
            out.save(heatmap(rec["read"].T, "read weights", "step", "slot"), "memory_read")
            out.save(heatmap(rec["write"].T, "write weights", "step", "slot"), "memory_write")
        if rec["attention"].size:
            title = "attention of the newest token (mean over heads)"
            fig = heatmap(rec["attention"], title, "window position (newest right)", "step")
            out.save(fig, "attention")


@register("probe", "sequence")
def build_sequence_probe(learner: Any) -> SequenceFigures | None:
    """For learners acting with a stateful actor (the Q learner on a sequence torso)."""
    actor = getattr(learner, "actor", None)
    return SequenceFigures(learner) if getattr(actor, "stateful", False) else None
