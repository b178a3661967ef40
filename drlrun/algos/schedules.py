"""Schedules of a frame counter (epsilon, beta, learning rates)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LinearSchedule:
    """`start` at frame 0, linearly to `end` at `duration`, then constant (CleanRL's form)."""

    start: float
    end: float
    duration: int

    def __call__(self, frame: int) -> float:
        if self.duration <= 0:
            return self.end
        slope = (self.end - self.start) / self.duration
        return (
            max(slope * frame + self.start, self.end)
            if self.end <= self.start
            else min(slope * frame + self.start, self.end)
        )


@dataclass(frozen=True)
class CosineSchedule:
    """Linear warm-up from 0 to `peak` over `warmup` steps, then a half cosine from `peak` down
    to `floor` at `duration` (Loshchilov & Hutter's SGDR without restarts), then `floor`."""

    peak: float
    duration: int
    warmup: int = 0
    floor: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        span = max(self.duration - self.warmup, 1)
        progress = min((step - self.warmup) / span, 1.0)
        return self.floor + 0.5 * (self.peak - self.floor) * (1.0 + math.cos(math.pi * progress))
