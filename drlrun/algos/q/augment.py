"""Image augmentation of sampled replay batches: DrQ's random shift (Kostrikov et al. 2020;
Yarats et al. 2021), for data-efficient learning from pixels (the Atari-100k protocol).

`algo.augment=shift` pads each image of the batch by `algo.augment_pad` pixels with its edge
values and crops it back at a random offset, obs and next_obs independently. Replicate padding
then cropping is the same as indexing with clamped coordinates, so it runs on the replay's
uint8 arrays with one gather and no float copy. Its generator is its own (seeded from the run's
seed) and is checkpointed, so a resumed run draws the same shifts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from drlrun.buffers.replay import Batch
from drlrun.errors import DrlrunError


def random_shift(images: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """(B, C, H, W) images, each shifted by up to `pad` pixels in x and y (edges repeated)."""
    b, _, h, w = images.shape
    dy, dx = (rng.integers(0, 2 * pad + 1, size=(2, b)) - pad)[:, :, None]
    rows = np.clip(np.arange(h)[None, :] + dy, 0, h - 1)  # (B, H)
    cols = np.clip(np.arange(w)[None, :] + dx, 0, w - 1)  # (B, W)
    batch = np.arange(b)[:, None, None, None]
    channels = np.arange(images.shape[1])[None, :, None, None]
    return images[batch, channels, rows[:, None, :, None], cols[:, None, None, :]]


class RandomShift:
    """Augments a replay Batch's obs and next_obs; state for the checkpoint."""

    def __init__(self, pad: int, seed: int, obs_shape: tuple[int, ...]):
        if len(obs_shape) != 3:
            raise DrlrunError(
                f"algo.augment=shift needs image observations (C, H, W); this env's are {obs_shape}"
            )
        if pad < 1:
            raise DrlrunError(f"algo.augment_pad must be >= 1, got {pad}")
        self.pad = pad
        self.rng = np.random.default_rng([seed, 0xD5C])  # a stream of its own

    def __call__(self, batch: Batch) -> Batch:
        obs = random_shift(batch.obs, self.pad, self.rng)
        next_obs = random_shift(batch.next_obs, self.pad, self.rng)
        return dataclasses.replace(batch, obs=obs, next_obs=next_obs)

    def state_dict(self) -> dict[str, Any]:
        return self.rng.bit_generator.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state
