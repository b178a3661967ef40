"""Checkpoints: atomic writes (temp file, fsync, rename), keep-last-K, safe loading.

Files load with `torch.load(weights_only=True)`, so a checkpoint can never run code. numpy arrays
are stored as tensors of their raw bytes plus dtype and shape, and come back bit-identical.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from drlrun.errors import DrlrunError

PATTERN = re.compile(r"^ckpt_(\d{12})\.pt$")
FORMAT_VERSION = 1


def to_safe(obj: Any) -> Any:
    """Replace numpy values with weights-only-loadable equivalents, recursively."""
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {
            "__ndarray__": torch.from_numpy(arr.reshape(-1).view(np.uint8)),
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_safe(v) for v in obj)
    return obj


def from_safe(obj: Any) -> Any:
    """Inverse of `to_safe`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            raw = obj["__ndarray__"].numpy()
            return raw.view(np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(from_safe(v) for v in obj)
    return obj


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (best effort where dirs cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Run `write(file)` on a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Write `obj` with torch.save, atomically (see `atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in `folder`, oldest first (by the step in their name)."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def save(state: dict[str, Any], folder: Path, step: int, keep: int) -> Path:
    """Save `state` as ckpt_<step>.pt and delete all but the newest `keep` checkpoints."""
    path = folder / f"ckpt_{step:012d}.pt"
    atomic_torch_save({"format": FORMAT_VERSION, "state": to_safe(state)}, path)
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


PREVIOUS_ADVICE = "move it aside to resume from the previous one"


def load(path: Path, advice: str = PREVIOUS_ADVICE) -> dict[str, Any]:
    """Load one checkpoint; a truncated or foreign file raises DrlrunError naming it and giving
    `advice` (what to do instead; runs whose replay lives beside the checkpoints pass their own)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DrlrunError(f"checkpoint {path} does not exist") from None
    except Exception as err:
        raise DrlrunError(
            f"checkpoint {path} is corrupt or not a drlrun checkpoint ({type(err).__name__}); "
            f"it was left untouched: {advice}"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT_VERSION:
        raise DrlrunError(f"checkpoint {path} has an unknown format; it was left untouched")
    return from_safe(blob["state"])


def latest(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1] if found else None
