"""Curiosity figures (book Figs. 8.17, 8.19): log losses over training, x_pos per episode, and
intrinsic vs extrinsic return per episode; the episode records also go to `episodes.csv`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

LOSS_KEYS = ("q_loss", "forward_loss", "inverse_loss", "rnd_loss")


def write_episodes_csv(episodes: list[dict[str, float]], path: Path) -> Path:
    keys = sorted({k for e in episodes for k in e}, key=lambda k: (k != "frame", k))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(episodes)
    return path


def curiosity_plots(curiosity: Any, run_dir: Path) -> list[Path]:
    """episodes.csv, curiosity_losses.png, x_pos.png (Mario) and intrinsic_vs_extrinsic.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[Path] = []
    episodes, history = curiosity.episodes, curiosity.history
    if episodes:
        out.append(write_episodes_csv(episodes, run_dir / "episodes.csv"))
    if history:
        fig, ax = plt.subplots(figsize=(7, 4))
        frames = [h["frame"] for h in history]
        for key in LOSS_KEYS:
            values = [h.get(key, np.nan) for h in history]
            if np.isfinite(values).any():
                ax.plot(frames, np.log(np.maximum(values, 1e-12)), label=f"log {key}")
        ax.set_xlabel("agent steps")
        ax.set_title("curiosity and Q losses (log scale, book Fig. 8.17)")
        ax.legend()
        out.append(_save(fig, run_dir / "curiosity_losses.png"))
    if any("max_x_pos" in e for e in episodes):
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([e.get("max_x_pos", np.nan) for e in episodes], label="max x_pos")
        ax.plot([e.get("x_pos", np.nan) for e in episodes], label="final x_pos", alpha=0.6)
        ax.set_xlabel("training episode")
        ax.set_ylabel("x_pos")
        ax.set_title("Mario's progress per episode (book Fig. 8.19)")
        ax.legend()
        out.append(_save(fig, run_dir / "x_pos.png"))
    if any("intrinsic_return" in e for e in episodes):
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(
            [e["return"] for e in episodes], [e.get("intrinsic_return", np.nan) for e in episodes]
        )
        ax.set_xlabel("extrinsic return")
        ax.set_ylabel("intrinsic return")
        ax.set_title("intrinsic vs extrinsic return per episode")
        out.append(_save(fig, run_dir / "intrinsic_vs_extrinsic.png"))
    return out


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
