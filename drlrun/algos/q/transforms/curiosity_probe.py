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


class IntrinsicOverlay:
    """Wraps an evaluation policy and recorder: each recorded frame gets a strip underneath with
    the intrinsic reward of the transitions so far drawn as a curve (scaled to its running max)."""

    def __init__(
        self, curiosity: Any, policy: Any, recorder: Any, to_tensor: Any, height: int = 64
    ):
        self.curiosity, self.policy, self.recorder = curiosity, policy, recorder
        self.to_tensor, self.height = to_tensor, height
        self.rewards: list[float] = []
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self._last is not None:
            self.rewards.append(self.curiosity.reward_of(*self._last, obs, self.to_tensor))
        actions = self.policy(obs, rng)
        self._last = (obs.copy(), np.asarray(actions))
        return actions

    def record(self, frame: np.ndarray, episode: int) -> None:
        h, w = self.height, frame.shape[1]
        strip = np.zeros((h, w, 3), dtype=np.uint8)
        values = np.asarray(self.rewards[-w:], dtype=np.float64)
        if len(values):
            top = max(float(np.max(self.rewards)), 1e-12)
            ys = (h - 2 - (h - 4) * np.clip(values / top, 0, 1)).astype(int)
            xs = np.arange(len(values))
            for dy in (0, 1):
                strip[np.clip(ys + dy, 0, h - 1), xs] = (255, 200, 0)
        self.recorder(np.concatenate([np.asarray(frame, dtype=np.uint8), strip], axis=0), episode)
