"""Figures for sequence torsos over one greedy episode: memory read/write weights, attention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmap(matrix: np.ndarray, path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    """One heatmap (rows x columns) with a colour bar, saved as PNG."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * cols + 2), max(3.0, 0.3 * rows + 1.5)))
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def record_episode(learner: Any, seed: int = 0, max_steps: int = 200) -> dict[str, np.ndarray]:
    """Play one greedy eval episode, collecting per-step read/write weights or attention."""
    torso = learner.torso
    env = learner.env_factory.make_eval()
    reads, writes, attention = [], [], []
    try:
        obs, _ = env.reset(seed=seed)
        state = torso.initial_state(1, learner.device)
        torso.record = True
        for _ in range(max_steps):
            torso.read_weights, torso.write_weights = [], []
            q, state = learner.step_q(obs, state)
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


def sequence_plots(learner: Any, run_dir: Path) -> list[Path]:
    """memory_read.png / memory_write.png (slots over steps), attention.png (window over steps)."""
    with torch.inference_mode():
        rec = record_episode(learner)
    paths = []
    if rec["read"].size:
        paths.append(
            heatmap(rec["read"].T, run_dir / "memory_read.png", "read weights", "step", "slot")
        )
        paths.append(
            heatmap(rec["write"].T, run_dir / "memory_write.png", "write weights", "step", "slot")
        )
    if rec["attention"].size:
        paths.append(
            heatmap(
                rec["attention"],
                run_dir / "attention.png",
                "attention of the newest token (mean over heads)",
                "window position (newest right)",
                "step",
            )
        )
    return paths
