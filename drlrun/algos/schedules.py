"""Schedules of a frame counter (epsilon, beta, learning rates)."""

from __future__ import annotations

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
