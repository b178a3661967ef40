"""Collect rendered frames and write them as an mp4 (imageio + its bundled ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class VideoRecorder:
    """A `recorder` callback for `Algorithm.evaluate` that keeps frames of the first episodes."""

    def __init__(self, max_episodes: int = 1, max_frames: int = 20_000):
        self.max_episodes, self.max_frames = max_episodes, max_frames
        self.frames: list[np.ndarray] = []

    def __call__(self, frame: np.ndarray, episode: int) -> None:
        if episode < self.max_episodes and len(self.frames) < self.max_frames:
            self.frames.append(np.asarray(frame))

    def write(self, path: Path, fps: int = 30) -> Path:
        import imageio.v2 as imageio

        if not self.frames:
            raise ValueError("no frames were recorded")
        path.parent.mkdir(parents=True, exist_ok=True)
        # macro_block_size=1 keeps odd frame sizes (e.g. 160x210 Atari) without resizing
        imageio.mimwrite(path, self.frames, fps=fps, macro_block_size=1)
        return path
