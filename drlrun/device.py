"""Pick the torch device and thread count from the `device` config group."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from drlrun.errors import DrlrunError

FEW_CORES = 4


def default_threads() -> int:
    """1 intra-op thread on small machines (2 threads measured 3-8x slower under contention)."""
    cores = os.cpu_count() or 1
    return 1 if cores <= FEW_CORES else min(cores, 8)


def cpu_name() -> str:
    """The CPU's model name and core count (e.g. `AMD EPYC, 2 cores`): the machine a job's wall
    time was measured on, recorded in summary.json so results gathered elsewhere say where."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def select_device(kind: str, threads: int | None) -> torch.device:
    """Resolve `auto|cpu|cuda[:N]`, set torch's thread count, and return the device."""
    torch.set_num_threads(threads if threads and threads > 0 else default_threads())
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DrlrunError(
                "device=cuda was asked for but torch sees no CUDA GPU; use device=cpu"
            )
        return torch.device(kind)
    if kind == "cpu":
        return torch.device("cpu")
    raise DrlrunError(f"unknown device {kind!r}; use auto, cpu or cuda")
