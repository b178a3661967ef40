"""The curiosity probe (book Figs. 8.17, 8.19): log losses over training, x_pos per episode,
intrinsic vs extrinsic return per episode, the episode records as `episodes.csv`, and in eval
videos a strip under each frame with the intrinsic reward of the transitions so far."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from drlrun.registry import register
from drlrun.viz.probe import Figures, FrameView, Probe, pyplot

LOSS_KEYS = ("q_loss", "forward_loss", "inverse_loss", "rnd_loss")


def write_episodes_csv(episodes: list[dict[str, float]], path: Path) -> Path:
    """One row per training episode (frame first, then the sorted keys)."""
    keys = sorted({k for e in episodes for k in e}, key=lambda k: (k != "frame", k))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(episodes)
    return path


def curiosity_figures(curiosity: Any, out: Figures) -> None:
    """episodes.csv, curiosity_losses.png, x_pos.png (Mario) and intrinsic_vs_extrinsic.png."""
    plt = pyplot()
    episodes, history = curiosity.episodes, curiosity.history
    if episodes:
        write_episodes_csv(episodes, out.path("episodes.csv"))
    if history:
        fig, ax = plt.subplots(figsize=(7, 4))
        frames = [h["frame"] for h in history]
        for key in LOSS_KEYS:
            values = [h.get(key, np.nan) for h in history]
            if np.isfinite(values).any():
                ax.plot(frames, np.log(np.maximum(values, 1e-12)), label=f"log {key}")
        title = "curiosity and Q losses (log scale, book Fig. 8.17)"
        _finish(out, fig, ax, "curiosity_losses", title, "agent steps")
    if any("max_x_pos" in e for e in episodes):
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([e.get("max_x_pos", np.nan) for e in episodes], label="max x_pos")
        ax.plot([e.get("x_pos", np.nan) for e in episodes], label="final x_pos", alpha=0.6)
        ax.set_ylabel("x_pos")
        title = "Mario's progress per episode (book Fig. 8.19)"
        _finish(out, fig, ax, "x_pos", title, "training episode")
    if any("intrinsic_return" in e for e in episodes):
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(
            [e["return"] for e in episodes], [e.get("intrinsic_return", np.nan) for e in episodes]
        )
        ax.set_xlabel("extrinsic return")
        ax.set_ylabel("intrinsic return")
        ax.set_title("intrinsic vs extrinsic return per episode")
        fig.tight_layout()
        out.save(fig, "intrinsic_vs_extrinsic")


def _finish(out: Figures, fig: Any, ax: Any, name: str, title: str, xlabel: str) -> None:
    """Label a line plot, add its legend and save it."""
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    out.save(fig, name)


class CuriosityProbe(Probe):
    """Figures of a curiosity transform, and each recorded frame with a strip underneath: the
    intrinsic reward of the episode's transitions so far as a curve (scaled to its running max)."""

    def __init__(self, learner: Any, height: int = 64):
        self.learner, self.curiosity, self.height = learner, learner.curiosity, height
        self.rewards: list[float] = []

    def figures(self, out: Figures) -> None:
        curiosity_figures(self.curiosity, out)

    def frame(self, frame: np.ndarray, view: FrameView) -> np.ndarray:
        if view.prev_obs is not None:
            self.rewards.append(
                self.curiosity.reward_of(
                    view.prev_obs, view.prev_action, view.obs, self.learner.to_tensor
                )
            )
        h, w = self.height, frame.shape[1]
        strip = np.zeros((h, w, 3), dtype=np.uint8)
        values = np.asarray(self.rewards[-w:], dtype=np.float64)
        if len(values):
            top = max(float(np.max(self.rewards)), 1e-12)
            ys = (h - 2 - (h - 4) * np.clip(values / top, 0, 1)).astype(int)
            xs = np.arange(len(values))
            for dy in (0, 1):
                strip[np.clip(ys + dy, 0, h - 1), xs] = (255, 200, 0)
        return np.concatenate([np.asarray(frame, dtype=np.uint8), strip], axis=0)


@register("probe", "curiosity")
def build_curiosity_probe(learner: Any) -> CuriosityProbe | None:
    return CuriosityProbe(learner) if getattr(learner, "curiosity", None) is not None else None
